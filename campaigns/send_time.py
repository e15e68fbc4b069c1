"""Best send time: each recipient texted at their predicted best hour inside a window, with a random-time holdout.

The marketer gives a window in recipients' local time (``Campaign.send_time``: ``start``, ``end``,
``holdout``). Each recipient's moment is chosen among the *open* parts of that window in their
zone (the campaign's quiet hours and country rules, :class:`campaigns.plan.Planner`'s own
window, so the delivery authority finds the message inside its window at claim time):

* **best_time** (most recipients): the open moment closest to their best hour, preferring their
  best weekday when two days are as close. The best hour is the stored prediction ``best_hour``
  (``intelligence.scoring``: hour and day in the contact's zone); without one, the campaign
  audience's best hour from its orders (``intelligence.send_time.population_best``) when at least
  ``MIN_SEGMENT_CUSTOMERS`` of them ordered, else everyone's; with no order on record at all, the
  window's first opening. When the send-time model measured no gain over one best hour for
  everyone (``single_hour`` on its model version), the predictions already hold that one hour
  for everyone and :class:`ModelStatus` says so.
* **random_time** (the holdout, ``holdout`` of the recipients chosen by a seeded hash of
  (campaign, contact)): a uniformly random minute of the same open window, so the report can
  measure the gain of choosing (:func:`lift`), the only fair comparison: same window, same message.

Each message records its group and the reason of its time in ``Message.analysis``
(``send_time``, ``send_time_reason``), which the authority never rewrites.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from campaigns import plan, scheduling
from campaigns.models import Campaign
from contacts.models import Prediction
from core.errors import ValidationFailed
from intelligence.models import ModelVersion

BEST, RANDOM = "best_time", "random_time"
GROUPS = (BEST, RANDOM)
DEFAULT_HOLDOUT = 0.1
#: fewer messages than this in a group: the lift is "n/a" (the normal interval would mislead)
MIN_GROUP = 30
Z95 = 1.959964
HOLDOUT_REASON = "holdout: random time"
MINUTE = timedelta(minutes=1)
Interval = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class Option:
    """The window (naive local wall-clock times, read in each recipient's zone) and the holdout share."""

    start: datetime
    end: datetime
    holdout: float = DEFAULT_HOLDOUT

    @classmethod
    def of(cls, campaign: Campaign) -> Option | None:
        raw = campaign.send_time
        if not raw:
            return None
        return cls(datetime.fromisoformat(raw["start"]), datetime.fromisoformat(raw["end"]),
                   float(raw.get("holdout", DEFAULT_HOLDOUT)))


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by ``parts`` (the same every run, on every machine)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def in_holdout(campaign_id: int, contact_id: int, share: float) -> bool:
    """Whether the contact is in the random-time holdout of the campaign (a draft hashes as id 0)."""
    return _unit("send-time-holdout", campaign_id, contact_id) < share


def open_intervals(planner: plan.Planner, option: Option, *, tz: ZoneInfo, country: str | None,
                   now: datetime) -> list[Interval]:
    """The parts of ``option``'s window from ``now`` on that the recipient's send window keeps open."""
    window = planner.window(country or "")
    start = max(scheduling.local_moment(option.start.date(), option.start.time(), tz), now)
    end = scheduling.local_moment(option.end.date(), option.end.time(), tz)
    found: list[Interval] = []
    day = option.start.date()
    while day <= option.end.date():
        if not scheduling.closed_day(day, country, window):
            opens = max(scheduling.local_moment(day, window.start, tz), start)
            closes = min(scheduling.local_moment(day, window.end, tz), end)
            if opens < closes:
                found.append((opens, closes))
        day += timedelta(days=1)
    return found


def _last_minute(interval: Interval) -> datetime:
    """The last whole minute at which a message in ``interval`` still goes inside it."""
    last = (interval[1] - MINUTE).replace(second=0, microsecond=0)
    return max(last, interval[0])


def best_moment(intervals: Sequence[Interval], *, hour: int, weekday: int | None, tz: ZoneInfo) -> datetime | None:
    """The open moment closest to ``hour`` (local) on its day; ties go to ``weekday``, then the earliest."""
    choices = []
    for interval in intervals:
        day = interval[0].astimezone(tz).date()
        target = scheduling.local_moment(day, time(hour), tz)
        moment = min(max(target, interval[0]), _last_minute(interval))
        other_day = weekday is not None and day.weekday() != weekday
        choices.append((abs(moment - target), other_day, moment))
    return min(choices)[2] if choices else None


def random_moment(intervals: Sequence[Interval], *seed: object) -> datetime | None:
    """A uniformly random minute of the open window, fixed by ``seed`` (a replayed chunk plans the same)."""
    sizes = [max(1, int((_last_minute(i) - i[0]) / MINUTE) + 1) for i in intervals]
    if not sizes:
        return None
    pick = random.Random(":".join(str(p) for p in ("send-time-random", *seed))).randrange(sum(sizes))
    for interval, size in zip(intervals, sizes, strict=True):
        if pick < size:
            return interval[0] + pick * MINUTE
        pick -= size
    raise AssertionError("unreachable: pick < sum(sizes)")


@dataclass(frozen=True)
class Target:
    """A best hour and weekday, where they come from, and whether they are on the orders' UTC clock."""

    hour: int | None
    weekday: int | None
    basis: str
    utc: bool = False

    def local(self, tz: ZoneInfo, on: date) -> tuple[int, int | None]:
        """The hour and weekday on the recipient's clock (orders are stored in UTC)."""
        assert self.hour is not None
        if not self.utc:
            return self.hour, self.weekday
        moment = datetime.combine(on, time(self.hour), tzinfo=UTC).astimezone(tz)
        shift = (moment.date() - on).days
        return moment.hour, None if self.weekday is None else (self.weekday + shift) % 7

    def reason(self, hour: int) -> str:
        if self.basis == SINGLE:
            return f"best time: {hour:02d}:00, one hour for everyone (customers' own hours did no better)"
        return f"best time: {hour:02d}:00 from {self.basis}"


#: where a best hour comes from, said in the waiting reason a marketer reads on the report ("from your history" read
#: as the marketer's own)
#: said of a best hour the window does not reach: the recipient gets the open moment nearest to it
OUTSIDE_WINDOW = ", outside the window: its nearest open time"
OWN, SEGMENT, EVERYONE = "the contact's own orders", "the segment's orders", "everyone's orders"
SINGLE = "one hour for everyone"
NO_HISTORY = Target(None, None, "no order history")


def predicted_targets(session: Session, contact_ids: Sequence[int]) -> dict[int, Target]:
    """The stored ``best_hour`` prediction of each contact that has one (the newest wins)."""
    found: dict[int, Target] = {}
    for start in range(0, len(contact_ids), 1000):
        rows = session.execute(
            select(Prediction.contact_id, Prediction.value, Prediction.detail)
            .where(Prediction.kind == "best_hour", Prediction.contact_id.in_(contact_ids[start:start + 1000]))
            .order_by(Prediction.computed_at, Prediction.id))
        for contact_id, value, detail in rows:
            detail = detail or {}
            day = detail.get("day")
            basis = EVERYONE if detail.get("default") else OWN if detail.get("personal", True) else SINGLE
            found[contact_id] = Target(int(detail.get("hour", value)), None if day is None else int(day), basis)
    return found


def orders_target(session: Session, audience: Select[Any] | None, *, now: datetime) -> Target:
    """The audience's best hour from its orders when enough of it ordered, else everyone's, else none."""
    import pandas as pd

    from intelligence.history import order_lines
    from intelligence.send_time import MIN_SEGMENT_CUSTOMERS, population_best

    frame = order_lines(session, until=now)
    at = pd.Timestamp(now.astimezone(UTC).replace(tzinfo=None))
    if frame.empty:
        return NO_HISTORY
    if audience is not None:
        members = {str(i) for i in session.scalars(audience)}
        mine = frame[frame["customer_id"].isin(members)]
        if mine["customer_id"].nunique() >= MIN_SEGMENT_CUSTOMERS:
            try:
                return Target(*population_best(mine, at), SEGMENT, utc=True)
            except ValueError:  # only cancelled orders among them
                pass
    try:
        return Target(*population_best(frame, at), EVERYONE, utc=True)
    except ValueError:
        return NO_HISTORY


@dataclass
class ModelStatus:
    """What the latest send-time model measured and chose; ``note`` says it in words."""

    version: str | None = None
    single_hour: bool = False
    validation: dict[str, Any] = field(default_factory=dict)

    @property
    def note(self) -> str:
        """The choice in a marketer's words: what was compared, which won and by how much, what follows.

        The figures are the model's held-out check (``hour_hit_pm1``, ``one_best_hour``): the share of
        customers whose first order in the last window before training fell within an hour of the hour
        each way chose from the orders before that window.
        """
        if self.version is None:
            return ("No send-time model is trained yet: recipients go at their segment's or everyone's best hour "
                    "from the orders on record, or at the window's first opening.")
        own, one = self.validation.get("hour_hit_pm1"), self.validation.get("one_best_hour")
        then = ("so everyone is texted at that single best hour." if self.single_hour
                else "so each recipient is texted at their own best hour.")
        if not (isinstance(own, float) and isinstance(one, float)):
            return ("Customers' own best hours did no better than one best hour for everyone, " + then
                    if self.single_hour else "Each recipient is texted at their own best hour, learned from their "
                    "past orders.")
        gap = abs(own - one) * 100
        by = f"{gap:.1f} percentage points" if gap >= 0.05 else "less than 0.1 percentage point"
        verdict = ("Both did equally well, " if own == one else f"Their own hour came out ahead by {by}, "
                   if own > one else f"One hour for everyone came out ahead by {by}, ")
        return (f"Compared on customers' recent orders: {own:.1%} of them next ordered within an hour of their own "
                f"best hour, {one:.1%} within an hour of one best hour for everyone. {verdict}{then}")

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "single_hour": self.single_hour, "validation": self.validation,
                "note": self.note}


def model_status(session: Session) -> ModelStatus:
    """The newest ``best_hour`` model version's choice and held-out figures."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.kind == "best_hour")
                         .order_by(ModelVersion.trained_at.desc(), ModelVersion.id.desc()).limit(1))
    if row is None:
        return ModelStatus()
    validation = (row.metrics or {}).get("validation")
    return ModelStatus(row.version, bool((row.params or {}).get("single_hour")),
                       validation if isinstance(validation, dict) else {})


class Timing:
    """Plans recipients of one campaign under its best-time option (build one per chunk)."""

    def __init__(self, campaign: Campaign, option: Option, targets: dict[int, Target],
                 fallback: Callable[[], Target]) -> None:
        self.campaign_id = campaign.id or 0
        self.option = option
        self.planner = plan.Planner(campaign)
        self._targets = targets
        self._fallback = fallback
        self._fallback_target: Target | None = None
        self._open: dict[tuple[str, str | None, datetime], list[Interval]] = {}

    @classmethod
    def load(cls, session: Session, campaign: Campaign, contact_ids: Sequence[int], *, now: datetime,
             audience: Select[Any] | None) -> Timing | None:
        """The timing of ``contact_ids``, or ``None`` when the campaign has no best-time option."""
        option = Option.of(campaign)
        if option is None:
            return None
        return cls(campaign, option, predicted_targets(session, contact_ids),
                   lambda: orders_target(session, audience, now=now))

    def _target(self, contact_id: int) -> Target:
        found = self._targets.get(contact_id)
        if found is not None:
            return found
        if self._fallback_target is None:  # read the orders only when someone has no prediction
            self._fallback_target = self._fallback()
        return self._fallback_target

    def slot(self, contact_id: int, timezone: str | None, country: str | None, *,
             now: datetime) -> tuple[plan.Slot, dict[str, str]]:
        """The recipient's planned slot and what the message records (``send_time``, ``send_time_reason``)."""
        tz = scheduling.zone(timezone, self.planner.campaign.timezone)
        key = (tz.key, country, now)
        if key not in self._open:  # the same zone and country share their open window
            self._open[key] = open_intervals(self.planner, self.option, tz=tz, country=country, now=now)
        intervals = self._open[key]
        if in_holdout(self.campaign_id, contact_id, self.option.holdout):
            group, reason = RANDOM, HOLDOUT_REASON
            at = random_moment(intervals, self.campaign_id, contact_id)
        else:
            group, target = BEST, self._target(contact_id)
            at = None
            if target.hour is not None and intervals:
                hour, weekday = target.local(tz, intervals[0][0].astimezone(tz).date())
                at, reason = best_moment(intervals, hour=hour, weekday=weekday, tz=tz), target.reason(hour)
                if at is not None and at.astimezone(tz).hour != hour:
                    # "best time: 14:00 … (Wed 05:20)" read as a contradiction: the window ends before 14:00
                    reason += OUTSIDE_WINDOW
            else:
                reason = "best time: no order history, the window's first opening"
                at = intervals[0][0] if intervals else None
        if at is None:  # nothing of the window is open for this recipient any more
            reason += "; the window has no open hour left for this recipient: first opening"
            return self.planner.first_send(timezone=timezone, country=country, now=now), _mark(group, reason)
        at = at.replace(second=0, microsecond=0)
        if at <= now:
            return plan.Slot(now), _mark(group, reason)
        local = at.astimezone(tz)
        return plan.Slot(at, plan.Wait("scheduled", f"{reason} ({local:%a %H:%M} {tz.key})"[:200])), \
            _mark(group, reason)


def _mark(group: str, reason: str) -> dict[str, str]:
    return {"send_time": group, "send_time_reason": reason}


@dataclass(frozen=True)
class Lift:
    """Best time minus random time in a rate, with its 95 % interval; ``None`` figures are undefined (JSON null,
    "n/a" in the exports and the console)."""

    metric: str
    best_rate: float | None
    random_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def lift(metric: str, best: tuple[int, int], holdout: tuple[int, int]) -> Lift:
    """``best`` and ``holdout`` are (successes, messages); a two-proportion normal 95 % interval.

    "n/a" when a group has fewer than ``MIN_GROUP`` messages or no group has a success (or a
    failure): the normal approximation says nothing then.
    """
    (s1, n1), (s2, n2) = best, holdout
    rate1 = s1 / n1 if n1 else None
    rate2 = s2 / n2 if n2 else None
    if n1 < MIN_GROUP or n2 < MIN_GROUP or s1 + s2 == 0 or s1 + s2 == n1 + n2:
        why = (f"fewer than {MIN_GROUP} messages in a group" if min(n1, n2) < MIN_GROUP
               else f"every message in both groups had the same outcome ({metric})")
        return Lift(metric, rate1, rate2, None, None, None, f"The {metric} lift is n/a: {why}.")
    assert rate1 is not None and rate2 is not None
    diff = rate1 - rate2
    se = math.sqrt(rate1 * (1 - rate1) / n1 + rate2 * (1 - rate2) / n2)
    low, high = diff - Z95 * se, diff + Z95 * se
    span = f"{diff * 100:+.1f} points (95 % CI {low * 100:+.1f} to {high * 100:+.1f})"
    if low > 0:
        sentence = f"Best time raised the {metric} rate by {span} over random times in the same window: a real gain."
    elif high < 0:
        sentence = f"Best time changed the {metric} rate by {span} against random times: it did worse here."
    else:
        sentence = f"The {metric} rate difference, {span}, is within noise: no measurable gain in this campaign."
    return Lift(metric, rate1, rate2, diff, low, high, sentence)


def planned(session: Session, campaign: Campaign, recipients: Sequence[tuple[int, str | None, str | None]], *,
            start: datetime, audience: Select[Any] | None) -> dict[str, Any]:
    """The best-time plan if the run started at ``start``; writes nothing.

    ``recipients`` are (contact id, time zone, country) after consent and caps
    (``campaigns.preview.audience``). Returns the recipients per group, per group and local hour
    of the planned time, the reasons (most frequent first) and the model's choice in words.
    """
    timing = Timing.load(session, campaign, [r[0] for r in recipients], now=start, audience=audience)
    if timing is None:
        raise ValidationFailed("the campaign has no best-time option (send_time)",
                               errors=[{"field": "send_time", "message": "not set"}])
    groups: Counter[str] = Counter()
    hours: dict[str, Counter[int]] = {group: Counter() for group in GROUPS}
    reasons: Counter[str] = Counter()
    for contact_id, tz, country in recipients:
        slot, mark = timing.slot(contact_id, tz, country, now=start)
        group = mark["send_time"]
        groups[group] += 1
        hours[group][slot.at.astimezone(scheduling.zone(tz, campaign.timezone)).hour] += 1
        reasons[mark["send_time_reason"]] += 1
    return {"start": start.isoformat(), "window": dict(campaign.send_time or {}), "recipients": len(recipients),
            "groups": {group: groups[group] for group in GROUPS},
            "local_hours": {group: {f"{h:02d}:00": n for h, n in sorted(hours[group].items())} for group in GROUPS},
            "reasons": [{"reason": r, "count": n} for r, n in reasons.most_common()],
            "model": model_status(session).as_dict()}
