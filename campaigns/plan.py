"""When each message of a campaign may go: the recipient's window, the local-time schedule, the throttle.

One planner serves preparation (the first ``not_before`` of every message), resume (windows and
spacing recomputed from now) and the delivery authority (a message whose window closed while it
waited is moved to the next opening). Every delay comes with its reason, stored on the row so a
person can see why a message waits (``wait_reason`` / ``wait_detail``):

* ``scheduled``: the campaign's local-time schedule has not come yet;
* ``quiet_hours``: outside the campaign's quiet hours in the recipient's zone;
* ``country_rule``: the recipient's country narrows the window (France: Monday to Saturday
  08:00-20:00, no public holidays);
* ``throttled``: the campaign's ``throttle_per_minute`` spaces the sends;
* ``ab_winner`` (planned distribution only): the rest of an A/B campaign waits for the winner;
* ``adaptive_batch`` (planned distribution only): an adaptive campaign's later batches wait their turn.

:func:`distribution` runs the same planning over a draft's recipients without writing anything,
so the campaign wizard can show how many messages go in each hour before anyone confirms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import abtest, scheduling
from campaigns.models import Campaign
from conversations.models import Message


@dataclass(frozen=True)
class Wait:
    """Why a message is not sent at once: a short code and a sentence for people."""

    code: str
    detail: str


@dataclass(frozen=True)
class Slot:
    """The first instant a message may go, and why it is later than asked (``None``: not later)."""

    at: datetime
    wait: Wait | None = None


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%a %H:%M} {tz.key}"


@dataclass(frozen=True)
class Rules:
    """The window a planner applies: a campaign's settings, or the defaults for marketing texts sent
    outside a campaign (``POST /api/v1/messages`` on the marketing lane), which keep the same
    promise: quiet hours 21:00-08:00 and the country rules in the recipient's zone."""

    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    respect_country_rules: bool = True
    timezone: str = "UTC"
    local_time: str = ""
    local_date: str = ""

    @classmethod
    def of(cls, campaign: Campaign) -> Rules:
        return cls(quiet_start=campaign.quiet_start, quiet_end=campaign.quiet_end,
                   respect_country_rules=campaign.respect_country_rules, timezone=campaign.timezone,
                   local_time=campaign.local_time or "", local_date=campaign.local_date or "")


class Planner:
    """Send windows of one campaign's recipients (windows cached per country; build one per batch)."""

    def __init__(self, rules: Campaign | Rules) -> None:
        self.campaign = rules if isinstance(rules, Rules) else Rules.of(rules)
        self._quiet = (scheduling.parse_hhmm(self.campaign.quiet_start), scheduling.parse_hhmm(self.campaign.quiet_end))
        self._windows: dict[str, scheduling.Window] = {}

    def window(self, country: str) -> scheduling.Window:
        """The recipient's daily send window (quiet hours narrowed by the country rule)."""
        window = self._windows.get(country)
        if window is None:
            window = scheduling.window_for(country, *self._quiet, country_rules=self.campaign.respect_country_rules)
            self._windows[country] = window
        return window

    def opening(self, *, timezone: str | None, country: str | None, after: datetime) -> Slot:
        """The first instant at or after ``after`` inside the recipient's window, with the reason to wait.

        Raises:
            ValidationFailed: the window is empty or no day in two weeks is open.
        """
        tz = scheduling.zone(timezone, self.campaign.timezone)
        window = self.window(country or "")
        at = scheduling.next_allowed(after, tz=tz, country=country, window=window)
        if at <= after:
            return Slot(after)
        return Slot(at, self._why(after, at, tz=tz, country=country or "", window=window))

    def closing(self, *, timezone: str | None, country: str | None, at: datetime) -> datetime:
        """When the recipient's window, open at ``at`` (:meth:`opening` returned ``at`` itself), closes."""
        return scheduling.window_close(at, tz=scheduling.zone(timezone, self.campaign.timezone),
                                       window=self.window(country or ""))

    def first_send(self, *, timezone: str | None, country: str | None, now: datetime) -> Slot:
        """Preparation: the campaign's local-time schedule (if any), then the recipient's window."""
        base = now
        if self.campaign.local_time:
            tz = scheduling.zone(timezone, self.campaign.timezone)
            local = scheduling.local_moment(date.fromisoformat(self.campaign.local_date),
                                            scheduling.parse_hhmm(self.campaign.local_time), tz)
            base = max(local, now)
        slot = self.opening(timezone=timezone, country=country, after=base)
        at = slot.at.replace(second=0, microsecond=0) if slot.at > now else now
        if slot.wait is None and at > now:
            tz = scheduling.zone(timezone, self.campaign.timezone)
            return Slot(at, Wait("scheduled", f"scheduled for {_local(at, tz)}"))
        return Slot(at, slot.wait)

    def _why(self, after: datetime, at: datetime, *, tz: ZoneInfo, country: str,
             window: scheduling.Window) -> Wait:
        local = after.astimezone(tz)
        until = _local(at, tz)
        name = scheduling.COUNTRY_NAMES.get(country.upper(), country.upper())
        if scheduling.closed_day(local.date(), country, window):
            what = "no Sunday sends" if local.weekday() == 6 else "no sends on public holidays"
            return Wait("country_rule", f"{name}: {what}, until {until}")
        quiet_start, quiet_end = self._quiet
        if not quiet_end <= local.time() < quiet_start:
            return Wait("quiet_hours", f"quiet hours until {until}")
        return Wait("country_rule", f"{name}: sends {window.start:%H:%M}-{window.end:%H:%M} only, until {until}")


MINUTE = timedelta(minutes=1)


class Throttle:
    """The send calendar of one throttled campaign: at most ``rate`` messages in any calendar minute.

    Loaded from the rows already planned (every message of the campaign whose ``not_before`` is in
    this minute or later), so preparation chunks, resume and the authority's re-planning all book
    into one calendar and never pile up on one minute (a window opening at 08:00 gets ``rate``
    messages at 08:00, ``rate`` at 08:01, ...).
    """

    def __init__(self, rate: int, booked: dict[datetime, int] | None = None) -> None:
        self.rate = rate
        self._booked: dict[datetime, int] = dict(booked or {})
        self._skip: dict[datetime, datetime] = {}  # full minute -> a later minute to look from

    @classmethod
    def load(cls, session: Session, campaign: Campaign, *, now: datetime,
             exclude: Sequence[int] = ()) -> Throttle:
        """The calendar of ``campaign`` from ``now``'s minute on (``exclude``: rows being re-planned)."""
        stmt = (select(Message.not_before, func.count()).where(
            Message.campaign_id == campaign.id, Message.not_before >= _minute(now))
            .group_by(Message.not_before))
        if exclude:
            stmt = stmt.where(Message.id.not_in(list(exclude)))
        booked: dict[datetime, int] = {}
        for at, n in session.execute(stmt):
            if at is None:
                continue
            minute = _minute(scheduling.aware(at))
            booked[minute] = booked.get(minute, 0) + int(n)
        return cls(campaign.throttle_per_minute, booked)

    def book(self, at: datetime) -> datetime:
        """Reserve the first free place at or after ``at``; returns when the message may go."""
        start = _minute(at)
        minute = start
        while self._booked.get(minute, 0) >= self.rate:
            ahead = self._skip.get(minute)
            minute = ahead if ahead is not None and ahead > minute else minute + MINUTE
        if minute != start:
            self._skip[start] = minute
        self._booked[minute] = self._booked.get(minute, 0) + 1
        return at if minute == start else minute


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def throttled(due: datetime, zone: str) -> Wait:
    """The wait reason of a message the throttle moved to ``due``, said in ``zone`` (the campaign's), named."""
    return Wait("throttled", f"throttled: campaign send rate, next slot {_local(due, scheduling.zone(zone))}")



@dataclass(frozen=True)
class Distribution:
    """A campaign run's planned send times: messages per hour and how many wait, by reason.

    ``hours`` are (start of the hour in UTC, messages planned in it), in order, hours without any
    message left out; ``waits`` counts the messages planned later than the start by ``Wait.code``;
    ``winner_at`` is when an A/B test's winner is chosen (UTC; ``None`` without a test); an adaptive test's
    ``last_batch_at`` is when its last batch is prepared at the latest (UTC) and ``held_back`` how many recipients
    its control keeps from any message; ``tested`` how many recipients an A/B test's test group holds (a waiting
    reason cannot tell: the rest may wait for a send window past the winner's moment rather than for the winner).
    """

    start: datetime
    hours: tuple[tuple[datetime, int], ...]
    waits: dict[str, int]
    winner_at: datetime | None = None
    last_batch_at: datetime | None = None
    held_back: int = 0
    tested: int = 0

    @property
    def total(self) -> int:
        return sum(n for _, n in self.hours)


class SlotSource(Protocol):
    """What plans one recipient's slot by itself (``campaigns.send_time.Timing``, the best-time option).

    A protocol rather than an import: ``send_time`` builds on this module's planner, so this module
    names only the one call it makes.
    """

    def slot(self, contact_id: int, timezone: str | None, country: str | None, *,
             now: datetime) -> tuple[Slot, dict[str, str]]: ...


class _Turns:
    """When each batch of an adaptive test is prepared, as ``campaigns.adaptive.next_batch_at`` decides: batch n
    ``batch_minutes`` after the last text of batch n - 1 is planned (a best hour, a window), no later than
    ``max_hours`` after the start, when the test stops and the rest follow at once. Batches are asked in order."""

    def __init__(self, start: datetime, every: timedelta, longest: timedelta) -> None:
        self.deadline, self.every = start + longest, every
        self.begins: dict[int, datetime] = {0: start}
        self.latest = start  # the last planned text of the batch being planned

    def begin(self, batch: int) -> datetime:
        while batch not in self.begins:
            before = max(self.begins)
            self.begins[before + 1] = max(min(max(self.latest, self.begins[before]) + self.every, self.deadline),
                                          self.begins[before])
        return self.begins[batch]

    def went(self, at: datetime) -> None:
        self.latest = max(self.latest, at)


def distribution(campaign: Campaign, recipients: Iterable[tuple[int, str | None, str | None]], *,
                 start: datetime, timing: SlotSource | None = None,
                 batches: Mapping[int, int] | None = None) -> Distribution:
    """When each recipient's message would go if ``campaign`` started at ``start``; writes nothing.

    ``recipients`` are (contact id, time zone, country) of the contacts it will text (consent and
    frequency cap already applied). The planning is preparation's own: the local-time schedule,
    the recipient's window (:meth:`Planner.first_send`), then the throttle in send order. An A/B
    campaign texts its test group (``abtest.in_test_group``; a draft never saved hashes as id 0)
    at the start and the rest ``winner_after_hours`` later, when the winner is chosen. With the
    best-time option, ``timing`` (``campaigns.send_time.Timing``) plans each recipient. An adaptive
    campaign gives ``batches`` (``campaigns.adaptive.planned_batches``: contact id → batch, the control
    absent): batch n is prepared ``batch_minutes`` after batch n - 1's last text is planned to go (a best hour,
    a window) and ``max_hours`` after the start at the latest; sooner once a variant is clearly best. The control gets
    no message. The first run only: a recurring campaign repeats it
    at each occurrence.

    Raises:
        ValidationFailed: the window is empty or no day in two weeks is open.
    """
    planner = Planner(campaign)
    ab = (campaign.ab or None) if batches is None else None  # an adaptive test has no fixed test group
    decided = start + timedelta(hours=float(ab.get("winner_after_hours", 4))) if ab else start
    # said in the campaign's zone, named, as every other wait is: "(Tue 14:00 UTC)" was read as local time
    zone = scheduling.zone(campaign.timezone)
    waiting_winner = Wait("ab_winner", f"waits for the A/B winner ({_local(decided, zone)})")
    every = timedelta(minutes=float((campaign.ab or {}).get("batch_minutes", 60)))
    slots: dict[tuple[str | None, str | None, datetime], Slot] = {}
    planned: list[Slot] = []
    held_back = tested = 0
    turns = _Turns(start, every, timedelta(hours=float((campaign.ab or {}).get("max_hours", 72))))
    if batches is not None:  # a batch begins once the one before has gone: its recipients in batch order
        recipients = sorted(recipients, key=lambda r: batches.get(r[0], -1))
    for contact_id, tz, country in recipients:
        held: Wait | None = None
        if batches is not None:
            if contact_id not in batches:  # the control: no message
                held_back += 1
                continue
            begin = turns.begin(batches[contact_id])
            if batches[contact_id]:
                held = Wait("adaptive_batch", f"waits for batch {batches[contact_id] + 1} of the adaptive test "
                                              f"({_local(begin, zone)} at the latest)")
        elif ab and not abtest.in_test_group(ab, campaign.id or 0, contact_id):
            begin, held = decided, waiting_winner
        else:
            begin, tested = start, tested + bool(ab)
        if timing is not None:
            planned.append(timing.slot(contact_id, tz, country, now=begin)[0])
        else:
            key = (tz, country, begin)
            if key not in slots:
                slot = planner.first_send(timezone=tz, country=country, now=begin)
                slots[key] = Slot(slot.at, slot.wait or held)
            planned.append(slots[key])
        turns.went(planned[-1].at)
    throttle = Throttle(campaign.throttle_per_minute) if campaign.throttle_per_minute else None
    hours: Counter[datetime] = Counter()
    waits: Counter[str] = Counter()
    for slot in sorted(planned, key=lambda s: s.at):
        at, wait = slot.at, slot.wait
        if throttle is not None:
            at = throttle.book(slot.at)
            wait = throttled(at, campaign.timezone) if at > slot.at else wait
        hours[at.replace(minute=0, second=0, microsecond=0)] += 1
        if wait is not None:
            waits[wait.code] += 1
    last = turns.begin(max(batches.values())) if batches else None
    return Distribution(start, tuple(sorted(hours.items())), dict(waits), decided if ab else None, last, held_back,
                        tested)
