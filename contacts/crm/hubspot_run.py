"""Running a HubSpot sync: pull then push (:mod:`contacts.crm.hubspot`, :mod:`contacts.crm.hubspot_push`), one at
a time in the deployment.

What ``POST /api/v1/contacts/sync/hubspot`` and the periodic job call. A sync holds :data:`RUNNING_KEY` in Redis
(a token; renewed at each checkpoint, so a long sync keeps it and a killed process's lapses): an admin's sync
started during the periodic one read the same cursors and pulled and wrote the same contacts again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from redis import Redis
from sqlalchemy.orm import Session

from contacts.crm.hubspot import (
    HubSpotConfig,
    SyncInterrupted,
    SyncResult,
    make_client,
    pull_contacts,
)
from contacts.crm.hubspot_push import push_opt_outs
from core.errors import Conflict
from core.pace import Pace
from core.retry import RetryPolicy

#: held while a sync runs (the admin's POST, the periodic job): a second one would read and write the same again
RUNNING_KEY = "relais:crm:hubspot:running"
#: how long the mark outlives its last sign of life (renewed at every checkpoint), so a killed process frees it
RUNNING_SECONDS = 900
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"


class SyncRunning(Conflict):
    """Another HubSpot sync is running (409): starting a second would pull and push the same contacts again."""


@contextmanager
def _running(redis: Redis) -> Iterator[Callable[[], None]]:
    """Hold :data:`RUNNING_KEY` while a sync runs; yields the renewal to call at each checkpoint.

    Raises:
        SyncRunning: another sync holds it.
    """
    token = secrets.token_hex(8)
    if not redis.set(RUNNING_KEY, token, nx=True, ex=RUNNING_SECONDS):
        raise SyncRunning("a HubSpot sync is already running; a second one would pull and push the same contacts "
                          "again: try again when it has ended")

    def renew() -> None:  # only while it is still this sync's (never another's that took it after it lapsed)
        redis.eval(_RENEW, 1, RUNNING_KEY, token, RUNNING_SECONDS)

    try:
        yield renew
    finally:
        redis.eval(_RELEASE, 1, RUNNING_KEY, token)


def sync(
    session: Session,
    config: HubSpotConfig,
    *,
    redis: Redis,
    policy: RetryPolicy | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> SyncResult:
    """Pull, then push (what ``POST /contacts/sync/hubspot`` and the periodic job run), one client for both,
    one sync at a time (:data:`RUNNING_KEY` in ``redis``).

    The push runs even when the pull was interrupted: a STOP given in Relais reaches HubSpot whatever the
    contact pages met. ``checkpoint``: see :func:`pull_contacts` and :func:`push_opt_outs`.

    Raises:
        SyncRunning: another sync is running.
        SyncInterrupted: either part was (the pull's first); both parts' progress is kept.
    """
    with _running(redis) as renew:

        def step() -> None:
            renew()
            if checkpoint is not None:
                checkpoint()

        return _sync(session, config, policy=policy, checkpoint=step)


def _sync(
    session: Session, config: HubSpotConfig, *, policy: RetryPolicy | None, checkpoint: Callable[[], None]
) -> SyncResult:
    client = make_client(config)
    result = SyncResult()
    pace = Pace(config.requests_per_10s)  # one for both parts: the limit is HubSpot's, per app
    try:
        pull_contacts(session, config, client=client, policy=policy, result=result, checkpoint=checkpoint, pace=pace)
    except SyncInterrupted as pulled:
        error = result.error
        try:
            push_opt_outs(session, config, client=client, policy=policy, result=result, checkpoint=checkpoint,
                          pace=pace)
        except SyncInterrupted as pushed:
            error = f"{error} The push too: {pushed.result.error}"
        result.status, result.error = "interrupted", f"{error} {result.pushed} consent changes pushed."
        raise SyncInterrupted(f"HubSpot sync interrupted: {result.error}", result=result) from pulled
    push_opt_outs(session, config, client=client, policy=policy, result=result, checkpoint=checkpoint, pace=pace)
    return result
