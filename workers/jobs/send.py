"""Jobs of the delivery engine. Each takes ids, opens its own sessions and is idempotent."""

from __future__ import annotations

from collections.abc import Sequence

from channels.simulator_outbox import redis_outbox
from core import db
from core.periodic import Periodic
from core.redis import get_redis
from core.settings import get_settings
from delivery import recovery, reports, states
from workers.delivery.runtime import get_engine
from workers.runner import claim_owner

#: Discovered through ``workers/tasks.py`` (the scheduler reads ``<package>.tasks.PERIODIC``).
PERIODIC = (
    Periodic("delivery-recovery", 60, "workers.jobs.send.recover_sends", "default"),
    Periodic("inbound-sweep", 60, "workers.delivery.ingest.sweep_inbound", "inbound"),
    Periodic("reports-sweep", 60, "workers.jobs.send.apply_reports", "inbound"),
)


def send_messages(message_ids: Sequence[int]) -> dict[str, int]:
    """Send a batch of queued messages (ids already sent or claimed elsewhere are skipped).

    In a forked work-horse (``relais worker``) the claims carry the worker's name, so recovery may
    release them soon after that worker is gone (``workers.runner.claim_owner``). On a server database
    the job returns once its batch is handed to the engine's lanes and they are nearly through what they
    hold, so the worker claims the next batch while they send; on SQLite (one writer: the lanes' record
    would wait for the next claim's commit) it returns once the batch is sent and recorded.
    """
    wait = db.engine().dialect.name == "sqlite"
    report = get_engine().send_batch(list(message_ids), owner=claim_owner(), wait=wait)
    return {k: v for k, v in vars(report).items() if isinstance(v, int)}


def recover_sends() -> dict[str, int]:
    """Periodic: reconcile sends interrupted by a crash (see :mod:`delivery.recovery`)."""
    return dict(vars(recovery.recover(get_redis(get_settings()))))


def apply_reports() -> int:
    """Apply the delivery reports webhooks kept (see :mod:`delivery.reports`); returns how many."""
    return reports.apply_pending(get_redis(get_settings()))


def apply_simulator_reports() -> int:
    """Apply the simulator's pending delivery reports, as a provider's status webhooks would be."""
    box = redis_outbox()
    applied = 0
    while reports := box.pop_reports():
        with db.session_scope() as session:
            for report in reports:
                states.apply_delivery_report(session, report=report)
        applied += len(reports)
    return applied
