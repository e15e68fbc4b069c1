"""Jobs of the contacts package: contact and order imports and their previews, the periodic CRM sync (HubSpot
pull + consent push, CSV by URL)."""

from __future__ import annotations

from core import db
from core.periodic import Periodic
from core.redis import get_redis
from core.settings import get_settings

PERIODIC = (Periodic("contacts-crm-sync", 900, "contacts.tasks.sync_crm", "default"),)


def run_import(import_id: int) -> str:
    """Run or resume one contact import (queued by ``contacts.import_jobs.start``); returns its status.

    An unexpected error is raised again for the queue to retry (the import resumes after its
    cursor); on the last attempt the import is marked failed first, so it does not stay ``running``.
    """
    from rq import get_current_job

    from contacts import import_runner

    try:
        return import_runner.run(import_id)
    except Exception as exc:
        current = get_current_job()
        if current is None or not current.retries_left:
            import_runner.give_up(import_id, exc)
        raise


def run_order_import(import_id: int) -> str:
    """Run one order import (queued by ``contacts.order_jobs.start``, the console's); returns its status.

    An unexpected error is raised again for the queue to retry (the import starts over: orders recorded by an
    attempt that committed are only counted); on the last attempt the import is marked failed first.
    """
    from rq import get_current_job

    from contacts import order_jobs

    try:
        return order_jobs.run(import_id)
    except Exception as exc:
        current = get_current_job()
        if current is None or not current.retries_left:
            order_jobs.give_up(import_id, exc)
        raise


def preview_import(draft_id: int) -> str:
    """Preview an uploaded file with its draft's current options (queued by ``contacts.import_drafts``); the
    result is stored on the draft for the console page, which polls it. Idempotent: a retry previews again."""
    from contacts import import_drafts

    return import_drafts.run(draft_id)


def sync_crm() -> str:
    """Run every configured CRM sync, each in its own transaction; a no-op when none is configured.

    The HubSpot sync commits after each page and every 50 consent writes, with its cursors, so a worker stopped
    mid-sync loses at most that; an interrupted one keeps what it did and fails the job with the reason, on the
    failed-jobs page; the next run resumes.
    """
    from contacts.crm import config, csv_sync, hubspot_run
    from contacts.file_limits import FileLimits
    from contacts.importer import ImportOptions

    settings = get_settings()
    done = []
    hubspot_settings = config.hubspot_config(settings)
    if hubspot_settings is not None:
        try:
            with db.session_scope() as session:
                # committed page by page: a worker stopped mid-sync (a deploy, a timeout) keeps what it did
                result = hubspot_run.sync(
                    session, hubspot_settings, redis=get_redis(settings), checkpoint=session.commit
                )
            done.append(f"hubspot {result.as_dict()}")
        except hubspot_run.SyncRunning:  # the admin's, or a slot's still going: it does this one's work
            done.append("hubspot skipped: a sync is already running")
    url = config.csv_url(settings)
    if url:
        with db.session_scope() as session:
            report = csv_sync.sync_from_url(
                session,
                url,
                ImportOptions(region=settings.default_region, source_name="csv-sync"),
                limits=FileLimits.of(settings),
            )
        done.append(
            f"csv rows={report.rows} created={report.created} updated={report.updated} unchanged={report.unchanged}"
        )
    return "; ".join(done) or "no CRM sync configured"
