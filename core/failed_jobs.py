"""Failed background jobs as an operator reads them: what each was about, how often it ran, and discarding one.

:func:`core.queue.failed_jobs` lists the failed-jobs registries of every queue (jobs that used up
their retries, and those :mod:`core.poison` dead-lettered) and :func:`core.queue.requeue_failed`
runs one again. This module adds what a person needs to decide between the two: the job's subject
in words ("Send message 42", "Prepare campaign 7", with the kind and ids so a page can link to it),
how many times it ran, whether it was dead-lettered, and :func:`discard` for a job not worth running.

Job functions are named by dotted path only (no import), so core stays below the packages it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from core import poison
from core.queue import FailedJob, all_queues, failed_jobs, rq_job_id


@dataclass(frozen=True)
class Subject:
    """What a job was working on: ``text`` for people; ``kind`` and ``ids`` for a link ("" and () when none)."""

    text: str
    kind: str = ""
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Kind:
    kind: str  # "message", "campaign", "import", "order_import", "intent_training", "webhook_delivery"
    noun: str  # one of them, in words
    verb: str  # the job's action, "{}" standing for the noun and its id(s)


# Jobs that take ids: their first argument is one id or a list of ids.
_WITH_IDS: dict[str, _Kind] = {
    "workers.jobs.send.send_messages": _Kind("message", "message", "Send {}"),
    "workers.jobs.inbound.process_inbound": _Kind("message", "inbound message", "Read and answer {}"),
    "campaigns.tasks.prepare_campaign": _Kind("campaign", "campaign", "Prepare the recipients of {}"),
    "contacts.tasks.run_import": _Kind("import", "contact import", "Run {}"),
    "contacts.tasks.run_order_import": _Kind("order_import", "order import", "Run {}"),
    "agent.tasks.train_intents": _Kind("intent_training", "intent training job", "Train the intents of {}"),
    "core.tasks.deliver_webhook": _Kind("webhook_delivery", "webhook delivery", "Post {}"),
}
# Jobs without arguments: sweeps, drains and the periodic tasks.
_WITHOUT_IDS: dict[str, str] = {
    "workers.jobs.send.apply_simulator_reports": "Apply the simulator's delivery reports",
    "workers.delivery.ingest.drain_inbound": "Store the texts and delivery reports received by webhook",
    "workers.delivery.ingest.sweep_inbound": "Sweep received webhooks left unstored (every minute)",
    "workers.jobs.send.recover_sends": "Recover sends left by a stopped worker (every minute)",
    "handoff.tasks.check_sla": "Check the escalations' SLA deadlines (every 30 s)",
    "campaigns.tasks.sweep": "Start due campaign runs and decide A/B tests (every 30 s)",
    "contacts.tasks.sync_crm": "Synchronise contacts with the CRM (every 15 min)",
    "core.tasks.sweep_webhooks": "Retry webhook deliveries that are due (every 5 min)",
}
_IDS_SHOWN = 5


def _ids_of(args: Sequence[Any]) -> tuple[int, ...]:
    first = args[0] if args else None
    values = first if isinstance(first, list | tuple) else [first]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return ()
    return tuple(values)


def describe(func: str, args: Sequence[Any]) -> Subject:
    """What a job of ``func`` called with ``args`` was about, in words (the dotted path when unknown)."""
    if func in _WITHOUT_IDS:
        return Subject(_WITHOUT_IDS[func])
    kind = _WITH_IDS.get(func)
    ids = _ids_of(args)
    if kind is None or not ids:
        shown = ", ".join(repr(a) for a in args)[:120]
        return Subject(f"{func}({shown})" if args else func)
    if len(ids) == 1:
        what = f"{kind.noun} {ids[0]}"
    else:
        listed = ", ".join(str(i) for i in ids[:_IDS_SHOWN]) + (", …" if len(ids) > _IDS_SHOWN else "")
        what = f"{len(ids)} {kind.noun}s ({listed})"
    return Subject(kind.verb.format(what), kind.kind, ids)


@dataclass(frozen=True)
class FailedJobEntry:
    """A failed job with its subject and history.

    ``runs`` is how many times it began running under its id (``None`` when nothing counts it any
    more); ``dead_lettered`` means :mod:`core.poison` retired it (it killed or froze its worker, or
    kept failing as sweeps queued it again) rather than it using up its own retries.
    """

    job: FailedJob
    subject: Subject
    runs: int | None
    dead_lettered: bool


def _runs(client: Any, job: FailedJob) -> tuple[int | None, bool]:
    counted = poison.history(client, job.id)
    if counted is not None:
        return counted.runs, counted.dead
    # the attempt counter lapses a day after the last start; RQ still knows this enqueue's retries
    try:
        stored = Job.fetch(job.id, connection=client, serializer=JSONSerializer)
    except NoSuchJobError:
        return None, False
    return (stored.number_of_retries or 0) + 1, job.reason.startswith("dead-lettered")


def failed(limit: int = 100) -> list[FailedJobEntry]:
    """Failed and dead-lettered jobs across every queue, newest first, each described."""
    client = all_queues()[0].connection
    entries = []
    for job in failed_jobs(limit):
        runs, dead = _runs(client, job)
        entries.append(FailedJobEntry(job=job, subject=describe(job.func, job.args), runs=runs, dead_lettered=dead))
    return entries


def subject_of(job_id: str) -> Subject | None:
    """What the stored job ``job_id`` is about (for the audit trail of a re-queue or discard), if it exists."""
    try:
        job = Job.fetch(rq_job_id(job_id), connection=all_queues()[0].connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    return describe(job.func_name or "", list(job.args or ()))


def discard(job_id: str) -> bool:
    """Delete a failed job without running it; ``False`` when there is no such failed job.

    A dead-lettered id stays refused by :func:`core.queue.enqueue` until its mark expires (a week),
    so a sweep cannot bring back a job that kills workers; a re-queue by an operator still can.
    """
    job_id = rq_job_id(job_id)
    for queue in all_queues():
        registry = FailedJobRegistry(queue=queue)
        if job_id in registry:
            registry.remove(job_id, delete_job=True)
            return True
    return False
