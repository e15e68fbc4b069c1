"""The process-wide delivery engine and channel, built from settings on first use."""

from __future__ import annotations

import atexit
import threading

from channels.base import DeliveryReport, InboundMessage
from channels.registry import get_channel
from channels.simulator_outbox import redis_outbox
from channels.smpp import SmppListener
from conversations import flows
from core import db
from core.redis import get_redis
from core.settings import get_settings
from delivery import states
from delivery.engine import DeliveryEngine

_lock = threading.Lock()
_engines: dict[int, DeliveryEngine] = {}


class DatabaseSmppListener(SmppListener):
    """SMPP deliver_sm handling: persist inbound texts and receipts before acknowledging them."""

    def on_inbound(self, *, message: InboundMessage) -> None:
        with db.session_scope() as session:
            flows.stage_inbound(session, inbound=message, channel="smpp")

    def on_report(self, *, report: DeliveryReport) -> None:
        with db.session_scope() as session:
            states.apply_delivery_report(session, report=report)


def get_engine() -> DeliveryEngine:
    """The engine for the current settings (tests switch settings; each gets its own engine)."""
    settings = get_settings()
    with _lock:
        engine = _engines.get(id(settings))
        if engine is None:
            channel = get_channel(settings, outbox=redis_outbox(settings), smpp_listener=DatabaseSmppListener())
            engine = DeliveryEngine(channel=channel, client=get_redis(settings), concurrency=settings.send_concurrency,
                                    max_throttle_pause=settings.max_throttle_pause_seconds)
            _engines[id(settings)] = engine
            # a worker stopping sends and records what its lanes hold (a send job may return before that)
            atexit.register(engine.close)
    return engine


def flush() -> None:
    """Wait until every engine's lanes have sent and recorded the batches handed to them."""
    with _lock:
        engines = list(_engines.values())
    for engine in engines:
        engine.flush()


def reset() -> None:
    """Close every engine (tests, shutdown)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()
