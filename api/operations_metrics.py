"""What an operator alerts on, read from the shared stores each time Prometheus scrapes ``/metrics``.

Workers run in their own processes, on any host, and expose no port: a counter they kept would reach no scraper,
and one kept in an API process would show that process's share only. So the figures come from where every host
writes: the database (texts waiting to go out, stored inbound texts not taken in, the escalation queue) and Redis
(RQ's queues and registries, the providers' pauses in the shared rate limiter). Each source is read on its own;
one that fails is logged and reported as ``relais_operations_source_up{source} 0`` while the others still answer,
so a database outage shows in the scrape rather than blanking it. The domain functions hold the definitions
(``delivery.backlog``, ``conversations.inbound_backlog``, ``handoff.metrics.waiting_now``, ``core.queue.depths``,
``delivery.limiter.RateLimiter.pauses``); this module only names them for Prometheus. docs/delivery.md,
*Monitoring*, lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from conversations.inbound_backlog import inbound_backlog
from core import db, queue
from core.db import utcnow
from core.redis import get_redis
from core.settings import get_settings
from delivery.backlog import outbound_backlog
from delivery.limiter import RateLimiter
from handoff.metrics import waiting_now

log = structlog.get_logger("relais.metrics")


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _database() -> Iterator[Metric]:
    now = utcnow()
    with db.session_scope() as session:
        outbound = outbound_backlog(session, now)
        inbound = inbound_backlog(session, now)
        escalations = waiting_now(session, now)
    waiting = _gauge(
        "relais_outbound_in_flight", "Outbound texts not yet handed to the provider, by status and wait reason",
        ("status", "wait_reason"),
    )  # fmt: skip
    for (status, reason), count in sorted(outbound.waiting.items()):
        waiting.add_metric([status, reason], count)
    yield waiting
    yield GaugeMetricFamily(
        "relais_outbound_oldest_due_seconds",
        "How long the oldest queued text that may go now has been due (0: none late); held texts do not count",
        value=outbound.oldest_due_seconds,
    )
    recent = _gauge("relais_outbound_last_hour", "Outbound texts created in the last hour, by status", ("status",))
    for status, count in sorted(outbound.recent.items()):
        recent.add_metric([status], count)
    yield recent
    yield GaugeMetricFamily(
        "relais_inbound_unprocessed", "Inbound texts stored but not yet taken in", value=inbound.unprocessed
    )
    yield GaugeMetricFamily(
        "relais_inbound_oldest_unprocessed_seconds",
        "How long the oldest stored inbound text has waited to be taken in (0: none)",
        value=inbound.oldest_seconds,
    )
    yield GaugeMetricFamily("relais_handoff_waiting", "Escalations waiting for an agent", value=escalations.depth)
    yield GaugeMetricFamily(
        "relais_handoff_oldest_wait_seconds",
        "How long the oldest escalation has waited for an agent (0: none)",
        value=escalations.oldest_wait_seconds,
    )


def _redis() -> Iterator[Metric]:
    jobs = _gauge("relais_queue_jobs", "Background jobs per queue and state (RQ)", ("queue", "state"))
    for (name, state), count in sorted(queue.depths().items()):
        jobs.add_metric([name, state], count)
    yield jobs
    paused = _gauge(
        "relais_provider_paused_seconds",
        "Seconds left of a pause a provider asked for (429, throttled), per rate-limit bucket",
        ("bucket",),
    )
    for bucket, seconds in sorted(RateLimiter(get_redis(get_settings())).pauses().items()):
        paused.add_metric([bucket], seconds)
    yield paused


SOURCES: dict[str, Callable[[], Iterator[Metric]]] = {"database": _database, "redis": _redis}


class OperationsCollector(Collector):
    """Reads every source at scrape time; a failing source is reported down, the others still answer."""

    def collect(self) -> Iterator[Metric]:
        up = _gauge("relais_operations_source_up", "Whether the scrape could read the source (1) or not (0)",
                    ("source",))  # fmt: skip
        for name, read in SOURCES.items():
            try:
                metrics = list(read())
            except Exception:
                log.exception("metrics source unreadable", source=name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up


def exposition() -> bytes:
    """The operators' figures in Prometheus's text format, read now (appended to the process's own metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperationsCollector())
    return generate_latest(registry)
