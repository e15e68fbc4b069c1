"""Helpers of the delivery tests: engines sending to the fake Vonage server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from channels.vonage import VonageChannel, VonageConfig
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery.engine import DeliveryEngine
from delivery.policy import RetryPolicy
from tests.channels.fakes.vonage_server import FakeVonage

KEY, SECRET = "abcd1234", "s3cr3t-api"


def make_engine(
    fake: FakeVonage,
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> DeliveryEngine:
    """A real engine (Vonage SDK, real Redis limiter and journal) sending to ``fake``."""
    channel = VonageChannel(VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host))
    return DeliveryEngine(channel=channel, client=get_redis(settings), concurrency=8, retry=retry, clock=clock)
