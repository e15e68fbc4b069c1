"""Revocation markers: a pause, a cancel, a STOP or an erasure told to the sending lanes through Redis.

The outbound authority (``delivery.authority``) decides at the claim, but a send worker's lanes hold claimed
messages for a while before the provider call (up to a few hundred ahead, longer behind a slow provider). A
state change committed meanwhile would not hold them back. So the code deciding a pause, a cancel or an
opt-out also writes a short-lived marker here, and the lanes' last step before the provider call (the limiter's
booking script, ``delivery.limiter``: no extra round trip) refuses a message a marker names; the engine hands
it back to ``queued`` and the authority decides again at the next claim. The lanes never decide pause or
consent themselves: a marker only sends a message back to the one authority.

Order: a marker is written after the database commit of the change (:func:`core.db.after_commit`), so the
database is the truth first; a marker lost (Redis unreachable: logged) only leaves the lanes the window they
had without markers (messages claimed before the change may still go). A release (resume, a START, a number
taken off the suppression list) deletes the marker after its commit, so the messages the authority lets go
again are not held by it; were a release's deletion overtaken by an older revocation's write (two processes,
within a moment), the messages would bounce between the lanes and the authority until the marker expires,
never sent against the database's state.

Markers live :data:`TTL_SECONDS`, above the recovery lease (600 s): a claim older than the lease is taken
back by recovery anyway, so no lane holds a claimed message longer than a marker lives.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
import structlog
from sqlalchemy.orm import Session

from core.db import after_commit
from core.redis import get_redis
from core.settings import get_settings

log = structlog.get_logger("relais.revocations")

PREFIX = "relais:revoked"
#: longer than the recovery lease (``delivery.recovery.LEASE_SECONDS``, 600 s), the longest a claim stands
TTL_SECONDS = 900

# What a contact's marker holds, as numbers the booking script compares (a message is held when the marker's
# level is at least its own, :func:`hold_level`); mirrors who ``contacts.consent.consent_verdicts`` refuses.
#: marketing consent declined: marketing texts only
MARKETING = 1
#: opted out (STOP): every lane but a transactional text with the audited ``override_opt_out``
OPTED_OUT = 2
#: erased or suppressed: every lane, override included
EVERYTHING = 3
#: a campaign's marker holds all of its messages
CAMPAIGN = 1

# a contact's marker only rises within its life (a STOP then a declined consent keeps the STOP's level)
_RAISE = """
local level = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if level < tonumber(ARGV[1]) then level = tonumber(ARGV[1]) end
redis.call('SET', KEYS[1], level, 'EX', ARGV[2])
return level
"""


def campaign_key(campaign_id: int) -> str:
    return f"{PREFIX}:campaign:{campaign_id}"


def contact_key(contact_id: int) -> str:
    return f"{PREFIX}:contact:{contact_id}"


def hold_level(lane: str, *, override_opt_out: bool) -> int:
    """The lowest contact marker level that holds a message on ``lane``."""
    if lane == "marketing":
        return MARKETING
    if override_opt_out and lane == "transactional":
        return EVERYTHING
    return OPTED_OUT


def holds(
    *, campaign_id: int | None, contact_id: int, lane: str, override_opt_out: bool
) -> tuple[tuple[str, int], ...]:
    """The markers (key, level at or above which it holds) that hold this message, for the booking script."""
    contact = (contact_key(contact_id), hold_level(lane, override_opt_out=override_opt_out))
    if campaign_id is None:
        return (contact,)
    return (campaign_key(campaign_id), CAMPAIGN), contact


def revoke_campaign_after_commit(session: Session, campaign_id: int) -> None:
    """Hold the campaign's messages in the lanes once ``session`` commits (its pause or cancel)."""
    _pending(session).revoke(campaign_key(campaign_id), CAMPAIGN)


def revoke_contact_after_commit(session: Session, contact_id: int, level: int) -> None:
    """Hold the contact's messages that ``level`` covers once ``session`` commits (an opt-out, an erasure...)."""
    _pending(session).revoke(contact_key(contact_id), level)


def release_campaign_after_commit(session: Session, campaign_id: int) -> None:
    """Drop the campaign's marker once ``session`` commits (resumed: the authority lets its messages go)."""
    _pending(session).release(campaign_key(campaign_id))


def release_contact_after_commit(session: Session, contact_id: int) -> None:
    """Drop the contact's marker once ``session`` commits (opted in again, or taken off the suppression list)."""
    _pending(session).release(contact_key(contact_id))


_PENDING = "relais:revocations"  # session.info: the transaction's markers, written by one after-commit callback
_CHUNK = 1000


class _Markers:
    """A transaction's markers, written in one pipeline after its commit (an import opting out thousands of
    contacts costs a few round trips, not one per contact); per key, what the transaction last decided."""

    def __init__(self) -> None:
        self.levels: dict[str, int] = {}  # key → level to raise it to; 0: delete it

    def revoke(self, key: str, level: int) -> None:
        self.levels[key] = max(level, self.levels.get(key, 0))

    def release(self, key: str) -> None:
        self.levels[key] = 0

    def write(self) -> None:
        """Run on the shared Redis; a failure is logged, never raised: the change is committed."""
        items = list(self.levels.items())
        try:
            client = get_redis(get_settings())
            for start in range(0, len(items), _CHUNK):
                pipe = client.pipeline(transaction=False)
                for key, level in items[start : start + _CHUNK]:
                    if level:
                        pipe.eval(_RAISE, 1, key, level, TTL_SECONDS)
                    else:
                        pipe.delete(key)
                pipe.execute()
        except redis.RedisError:
            log.warning(
                "could not write revocation markers: messages already claimed may still be sent",
                markers=len(items),
                first=items[0][0] if items else "",
                exc_info=True,
            )


def _pending(session: Session) -> _Markers:
    found: tuple[Callable[[], None], _Markers] | None = session.info.get(_PENDING)
    if found is None or found[0] not in session.info.get("after_commit", ()):  # none yet, or rolled back
        markers = _Markers()

        def write() -> None:
            session.info.pop(_PENDING, None)
            markers.write()

        after_commit(session, write)
        found = session.info[_PENDING] = (write, markers)
    return found[1]
