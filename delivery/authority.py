"""The one authority answering "may this message go now?", asked at the last moment before sending.

Preparation plans a time for every message (``not_before``), but a plan can go stale: the
campaign is paused, the contact opts out, a provider outage or a backlog carries a marketing text
past its window, a one-time code outlives its use. So the send job asks here at claim time (the
last step before the provider call), recovery asks before re-enqueueing an orphan, and campaign
resume re-plans through the same window rules (:mod:`campaigns.plan`). Checks, in order:

1. **expiry**: past ``expires_at`` → reject ``expired`` (never sent late);
2. **consent** for the lane (:func:`contacts.consent.consent_verdicts`) → reject with its reason;
3. **campaign state**: running or preparing → go on; paused → wait (no wake-up: resume re-plans);
   cancelled, completed or gone → reject ``campaign_cancelled``;
4. **frequency cap** of the campaign (or the contact's learned cap when the campaign opts in and it is
   smaller, :mod:`campaigns.fatigue`), counted over what was sent in the window → reject ``frequency_cap``;
   and over the texts other batches hold claimed, not yet recorded sent (in a claim's transaction, in the
   sending lanes, at a worker that died) → wait :data:`CAP_RECHECK` (``frequency_cap``) and decide again once
   they are sent or handed back. A claiming caller (the send job) decides and claims under a per-contact lock
   (:func:`_hold`), so two batches claimed at once for one contact see each other;
5. **send window** of a campaign message, recomputed now in the recipient's zone (quiet hours,
   country rules, public holidays) → wait for the next opening;
6. **throttle**: a campaign message that missed its minute (backlog, outage, recovery) is booked
   again in the campaign's send calendar, under a lock per campaign (:func:`_hold`) → wait for its new slot.

A wait keeps the row ``queued`` with ``not_before`` = the new time and its reason, and registers a
wake-up send job for then; the row, not the job, is the truth.

A ``go`` holds until a deadline: the end of the recipient's open window for a windowed message, its
``expires_at`` for a time-critical one. The sending lanes may hold a claimed message a while before the
provider call (behind a slow provider, minutes); they compare the clock with the deadline as their last
step and hand a message past it back to ``queued`` (``delivery.engine``), so this authority decides again:
a campaign text claimed at 20:59:59 is not sent at 21:00:30, a one-time code not after it expired.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from campaigns import fatigue, plan, scheduling
from campaigns.models import Campaign
from campaigns.prepare import NOT_DELIVERED
from channels.timezones import MAIN_ZONE
from contacts.consent import REFUSAL_TEXT, consent_verdicts
from contacts.models import Contact
from conversations.flows import send_job
from conversations.models import Message
from core.errors import ValidationFailed
from core.queue import enqueue_after_commit
from core.settings import get_settings
from core.sql import among, array_literal
from delivery import store

#: a campaign message this late past its planned time missed its throttle minute
MISSED_SLOT = timedelta(seconds=60)
_RUNNING = ("preparing", "running")
#: a text whose cap is filled only with the help of texts in flight (claimed elsewhere, not yet sent) is decided
#: again this much later: by then they are usually sent (it is refused) or handed back (it may go)
CAP_RECHECK = timedelta(seconds=30)
#: the first key of the advisory locks that serialise the cap's decision per contact, and the throttle's calendar
#: per campaign (the second: the contact's id, the campaign's)
_CAP_LOCKS, _CALENDAR_LOCKS = 0x4341_5053, 0x4341_4C45
#: the locks, taken in the order given (contacts then campaigns, each sorted: two transactions never deadlock) and
#: held until the transaction ends; one statement whatever the batch's size
_HOLD = text("SELECT count(pg_advisory_xact_lock(s, k)) FROM unnest(CAST(:spaces AS INTEGER[]), "
             "CAST(:keys AS INTEGER[])) AS u(s, k)")


@dataclass(frozen=True)
class Verdict:
    """``go``; ``wait`` until ``until`` (``None``: until resumed); or ``reject`` as ``status``.

    A ``go`` with ``until`` was re-booked in the campaign's throttle calendar for ``until`` (now); its
    ``deadline`` (``None``: none) is when the go lapses: its window closes or it expires.
    """

    action: str
    code: str = ""
    detail: str = ""
    until: datetime | None = None
    status: str = "rejected"
    deadline: datetime | None = None


GO = Verdict("go")


def _wait(until: datetime | None, wait: plan.Wait) -> Verdict:
    return Verdict("wait", wait.code, wait.detail, until)


def may_send(session: Session, rows: Sequence[Message], *, now: datetime,
             claiming: bool = False) -> dict[int, Verdict]:
    """Decide for each of ``rows`` (queued or just claimed) whether it may go at ``now``; no writes.

    ``claiming``: the rows allowed to go are claimed in the caller's transaction (the send job). The contacts whose
    frequency cap is decided are then locked until that transaction ends (:func:`_hold`): another batch
    deciding for one of them waits, and then counts this one's claims as in flight. Texts of ``rows`` allowed to go
    count against the caps of those decided after them (campaign by campaign, in id order), as another batch's would.
    """
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        expires = scheduling.aware(row.expires_at) if row.expires_at else None
        if expires is not None and expires <= now:
            verdicts[row.id] = Verdict("reject", "expired", f"expired at {expires:%Y-%m-%d %H:%M:%S} UTC",
                                       status="expired")
    by_check: dict[tuple[str, bool], list[Message]] = defaultdict(list)
    for row in rows:
        if row.id not in verdicts:
            by_check[(row.lane, bool(row.override_opt_out))].append(row)
    for (lane, override), group in by_check.items():
        blocked = consent_verdicts(session, [r.contact_id for r in group], lane, override_opt_out=override, now=now)
        for row in group:
            if row.contact_id in blocked:
                reason = blocked[row.contact_id]
                verdicts[row.id] = Verdict("reject", reason, REFUSAL_TEXT.get(reason, reason))
    ad_hoc = [r for r in rows if r.id not in verdicts and r.campaign_id is None and r.lane == "marketing"]
    if ad_hoc:
        verdicts.update(_default_window_verdicts(session, ad_hoc, now=now))
    by_campaign: dict[int, list[Message]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.id):
        if row.id not in verdicts and row.campaign_id is not None:
            by_campaign[row.campaign_id].append(row)
    campaigns = {cid: session.get(Campaign, cid) for cid in by_campaign}
    capped = {r.contact_id for cid, group in by_campaign.items() if _capping(campaigns[cid]) for r in group}
    _hold(session, contacts=capped if claiming else set(),
          calendars={cid for cid, c in campaigns.items() if c is not None and c.status in _RUNNING
                     and c.throttle_per_minute})
    # this batch's marketing texts going now: in flight for the caps decided after them
    going: Counter[int] = Counter(r.contact_id for r in ad_hoc if verdicts[r.id].action == "go")
    for campaign_id, group in by_campaign.items():
        decided = _campaign_verdicts(session, campaigns[campaign_id], group, now=now, going=going)
        verdicts.update(decided)
        going.update(r.contact_id for r in group if r.lane == "marketing" and decided[r.id].action == "go")
    decided = {}
    for row in rows:
        verdict = verdicts.get(row.id, GO)
        if verdict.action == "go" and row.expires_at is not None:
            expires = scheduling.aware(row.expires_at)
            verdict = replace(verdict, deadline=min(verdict.deadline or expires, expires))
        decided[row.id] = verdict
    return decided


def _capping(campaign: Campaign | None) -> bool:
    """Whether the authority may count ``campaign``'s texts against a cap (a learned one included)."""
    return campaign is not None and campaign.status in _RUNNING and (campaign.frequency_cap > 0
                                                                     or campaign.learned_cap)


def _hold(session: Session, *, contacts: Collection[int], calendars: Collection[int]) -> None:
    """Lock ``contacts`` and the throttle calendars of the ``calendars`` campaigns until the transaction ends, so
    what is counted and what it allows are written as one step.

    * contacts (a claiming batch's): two batches claimed at once for one contact each count the other's claim
      against the frequency cap;
    * calendars: two batches of a throttled campaign re-booking their late texts at once each read the calendar
      before the other's bookings were committed, and both filled the same minute.

    PostgreSQL: transaction-level advisory locks, in one order (contacts then campaigns, each by id: no deadlock
    between two batches), taken after the batch's rows are locked. A row lock on the contacts would block their
    updates (a STOP) for the batch's transaction instead. Each lock takes a place in the server's lock table
    (``max_locks_per_transaction`` × connections, 6,400 by default) until the commit: a send batch holds at most
    500 texts (about 1 ms for 500 locks here); the recovery sweep, which may decide for thousands, locks no
    contact. SQLite: nothing to do for a send job, whose claim's UPDATE holds the one write lock, ahead of the
    reads, until the commit.
    """
    if (contacts or calendars) and session.get_bind().dialect.name == "postgresql":
        spaces = [_CAP_LOCKS] * len(contacts) + [_CALENDAR_LOCKS] * len(calendars)
        session.execute(_HOLD, {"spaces": array_literal(spaces), "keys": array_literal([*sorted(contacts),
                                                                                        *sorted(calendars)])})


def _default_window_verdicts(session: Session, rows: list[Message], *, now: datetime) -> dict[int, Verdict]:
    """Marketing texts sent outside a campaign keep the default window (:class:`campaigns.plan.Rules`)
    in the recipient's zone: the contact's, else their country's main zone, else the deployment's."""
    region = get_settings().default_region.upper()
    planner = plan.Planner(plan.Rules(timezone=MAIN_ZONE.get(region, "UTC")))
    contacts = _zones(session, {r.contact_id for r in rows})
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        tz, country = contacts.get(row.contact_id, (None, ""))
        country = country or region
        zone = tz or MAIN_ZONE.get(country.upper())
        slot = planner.opening(timezone=zone, country=country, after=now)
        if slot.wait is not None and slot.at > now:
            verdicts[row.id] = _wait(slot.at, slot.wait)
        else:
            verdicts[row.id] = Verdict("go", deadline=planner.closing(timezone=zone, country=country, at=now))
    return verdicts


def _campaign_verdicts(session: Session, campaign: Campaign | None, rows: list[Message], *,
                       now: datetime, going: Counter[int]) -> dict[int, Verdict]:
    if campaign is None or campaign.status not in (*_RUNNING, "paused"):
        state = campaign.status if campaign is not None else "deleted"
        return {r.id: Verdict("reject", "campaign_cancelled", f"campaign {state}") for r in rows}
    if campaign.status == "paused":
        return {r.id: _wait(None, plan.Wait("paused", f"campaign {campaign.name!r} paused")) for r in rows}
    verdicts = _capped(session, campaign, rows, now, going)
    open_rows = [r for r in rows if r.id not in verdicts]
    rows_by_id = {r.id: r for r in open_rows}
    contacts = _zones(session, {r.contact_id for r in open_rows})
    planner = plan.Planner(campaign)
    slots: dict[int, plan.Slot] = {}
    for row in open_rows:
        tz, country = contacts.get(row.contact_id, (None, ""))
        try:
            slots[row.id] = planner.opening(timezone=tz, country=country, after=now)
        except ValidationFailed as exc:  # an empty window can never open: say so instead of waiting forever
            verdicts[row.id] = Verdict("reject", "no_window", str(exc))
    late = [r for r in open_rows if r.id in slots and (
        slots[r.id].wait is not None or _missed_slot(r, now))]
    booked: set[int] = set()
    if late and campaign.throttle_per_minute:
        booked = {r.id for r in late}
        throttle = plan.Throttle.load(session, campaign, now=now, exclude=[r.id for r in late])
        for row in sorted(late, key=lambda r: (slots[r.id].at, r.id)):
            slot = slots[row.id]
            due = throttle.book(slot.at)
            if due > slot.at:
                slots[row.id] = plan.Slot(due, plan.throttled(due, campaign.timezone))
    closes: dict[tuple[str | None, str], datetime] = {}  # a batch's rows share a few zones
    for row_id, slot in slots.items():
        if slot.wait is not None and slot.at > now:
            verdicts[row_id] = _wait(slot.at, slot.wait)
        else:  # a re-booked row going now keeps its place in the calendar (not_before = now)
            zone = contacts.get(rows_by_id[row_id].contact_id, (None, ""))
            if zone not in closes:
                closes[zone] = planner.closing(timezone=zone[0], country=zone[1], at=now)
            verdicts[row_id] = Verdict("go", until=slot.at if row_id in booked else None, deadline=closes[zone])
    return verdicts


def _zones(session: Session, contact_ids: set[int]) -> dict[int, tuple[str | None, str]]:
    """(timezone, country) of each contact, in one query whose ids are one array on PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return {cid: (tz, country) for cid, tz, country in session.execute(
        select(Contact.id, Contact.timezone, Contact.country).where(among(Contact.id, contact_ids, dialect)))}


def _missed_slot(row: Message, now: datetime) -> bool:
    return row.not_before is not None and scheduling.aware(row.not_before) < now - MISSED_SLOT


def _capped(session: Session, campaign: Campaign, rows: list[Message], now: datetime,
            going: Counter[int]) -> dict[int, Verdict]:
    """The verdicts of rows whose contact's cap is full: refused when texts sent in the window fill it (any
    campaign, or outside one), waiting :data:`CAP_RECHECK` when texts in flight make up the rest: claimed by another
    batch and not yet recorded sent (``sending``), or going now in this one (``going``, per contact).

    The cap is the campaign's, or the contact's learned one when the campaign opts in (``learned_cap``) and it is
    smaller (:mod:`campaigns.fatigue`). A text in flight is not refused against: one handed back (its window
    closed in the lanes, a pause, a provider's deferral) or never taken (its worker died) leaves the cap free.
    """
    contacts = {r.contact_id for r in rows}
    learned = fatigue.learned_caps(session, contacts, window_days=campaign.frequency_days,
                                   now=now) if campaign.learned_cap else {}
    if campaign.frequency_cap <= 0 and not learned:
        return {}
    since = now - timedelta(days=campaign.frequency_days)
    dialect = session.get_bind().dialect.name
    reached = and_(Message.sent_at >= since, Message.status.not_in(NOT_DELIVERED))
    in_flight = and_(Message.status == "sending", Message.sent_at.is_(None))
    counts = {contact: (sent, flying) for contact, sent, flying in session.execute(
        select(Message.contact_id, func.count().filter(reached), func.count().filter(in_flight))
        .where(among(Message.contact_id, contacts, dialect), Message.lane == "marketing",
               Message.direction == "out", or_(reached, in_flight), ~among(Message.id, [r.id for r in rows], dialect))
        .group_by(Message.contact_id)
    )}
    verdicts = {}
    for row in rows:
        cap, kind = campaign.frequency_cap, "frequency cap"
        mine = learned.get(row.contact_id)
        if mine is not None and (cap <= 0 or mine < cap):
            cap, kind = mine, "learned frequency cap"
        if cap <= 0:
            continue
        sent, flying = counts.get(row.contact_id, (0, 0))
        rule = f"{kind}: {cap} in {campaign.frequency_days} days"
        if sent >= cap:
            verdicts[row.id] = Verdict("reject", "frequency_cap", rule)
        elif sent + flying + going[row.contact_id] >= cap:
            until = now + CAP_RECHECK
            verdicts[row.id] = Verdict("wait", "frequency_cap", f"{rule}, with another marketing text to this "
                                       f"contact being sent; decided again at {until:%H:%M:%S} UTC", until)
    return verdicts


def enforce(session: Session, rows: Sequence[Message], *, now: datetime,
            claiming: bool = False) -> tuple[list[Message], dict[int, datetime]]:
    """Apply :func:`may_send` to ``rows``: close the rejected, park the waiting; return those that may go,
    and the deadline of each that has one (it may go only before then: the lanes' last check).

    A waiting row goes back to ``queued`` with its new ``not_before`` and reason, and a wake-up send
    job is registered for that instant (after the commit); a paused campaign's rows get no job. ``claiming``: the
    rows returned are claimed in this transaction (see :func:`may_send`).
    """
    verdicts = may_send(session, rows, now=now, claiming=claiming)
    ready: list[Message] = []
    deadlines: dict[int, datetime] = {}
    wakeups: dict[tuple[str, datetime], list[int]] = defaultdict(list)
    for row in rows:
        verdict = verdicts[row.id]
        if verdict.action == "reject":
            store.close(session, row, status=verdict.status, code=verdict.code, reason=verdict.detail)
        elif verdict.action == "wait":
            row.status, row.claim_token = "queued", ""
            row.wait_reason, row.wait_detail = verdict.code[:20], verdict.detail[:200]
            if verdict.until is not None:
                row.not_before = verdict.until
                wakeups[(row.lane, verdict.until)].append(row.id)
        else:
            if verdict.until is not None:
                row.not_before = verdict.until
            if verdict.deadline is not None:
                deadlines[row.id] = verdict.deadline
            ready.append(row)
    for (lane, until), ids in wakeups.items():
        enqueue_after_commit(session, send_job(sorted(ids), lane=lane, at=until.astimezone(UTC),
                                               attempt=int(until.timestamp())))
    session.flush()
    return ready, deadlines
