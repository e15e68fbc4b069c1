"""Campaign reports: delivery, failures by reason, clicks/CTR, replies, opt-outs, conversions, cost.

Definitions (documented in docs/campaigns.md):

* ``sent``: messages that reached the provider (``sent_at`` set or status sent/delivered/failed
  after submission); ``delivered``: delivery report says delivered; ``delivery_rate`` =
  delivered / sent (``None`` when nothing was sent: a rate of nothing is undefined, never 0).
* ``rejected``: never sent (opted out before sending, campaign cancelled), by ``error_code``.
* ``queued``: waiting to be sent; ``sending``: claimed by a worker, the provider call under way (or
  interrupted: recovery settles them, see docs/delivery.md).
* ``clicks``: tracked link hits; ``unique_clicks``: contacts who clicked; ``ctr`` =
  unique_clicks / delivered (sent while no delivery reports arrived).
* ``replies`` / ``opt_outs``: recipients who texted back / opted out after their campaign message,
  within ``ATTRIBUTION_DAYS``.
* ``conversions``: ``POST /api/v1/campaigns/{id}/conversions`` or events naming the campaign.
* ``cost_micros``: the sum of the prices the provider reported; ``unpriced_messages``: texts sent or
  delivered without a price (SMPP never says one), whose cost is unknown, so ``cost_complete`` is
  false and ``cost_micros`` only a floor (:func:`unpriced`).
* ``waiting``: queued messages by why they wait (``quiet_hours``, ``country_rule``, ``scheduled``,
  ``throttled``, ``paused``, ``retry``, ``rate_limited``, ``provider_throttled``: the provider asked to slow
  down; ``due`` when nothing holds them), with
  the earliest planned time and its explanation ("quiet hours until Mon 08:00 Europe/Paris").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, distinct, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from campaigns import send_time
from campaigns.abtest import ArmResult
from campaigns.models import Campaign, Conversion, LinkClick
from campaigns.scheduling import aware
from contacts.models import ConsentEvent
from conversations.models import Message
from core.db import utcnow

ATTRIBUTION_DAYS = 3
SENT_STATUSES = ("sent", "delivered", "unknown")
FAILED_STATUSES = ("failed", "dead", "expired")
ARM = Message.analysis["ab_arm"].as_string()
#: a group of a campaign's messages: (key of ``Message.analysis``, value), e.g. ("ab_arm", "A") or
#: ("send_time", "best_time"), or (:data:`RUN`, "2") for one run's; several such pairs for the messages
#: every one of them selects (an arm's messages of one run); ``None`` = every message
Pair = tuple[str, str]
Group = Pair | tuple[Pair, ...] | None
#: the group key selecting one run's messages, by their idempotency key ``campaign:<id>:<run>:<contact>``
#: (``campaigns.prepare``), the one place a message records its run
RUN = "run"
#: clicks and conversions counted from (inclusive) until (exclusive); ``None`` = unbounded
Window = tuple[datetime | None, datetime | None]
#: the channel that sends for free (``channels.simulator``: its texts carry no price and none is owed)
FREE_CHANNEL = "simulator"


def _pairs(group: Group) -> list[Pair]:
    match group:
        case None:
            return []
        case (str() as key, str() as value):
            return [(key, value)]
        case _:
            return list(group)


def in_group(message: Any, group: Group) -> ColumnElement[bool]:
    """The condition that selects ``group``'s messages among ``message`` (the table or an alias of it)."""
    return and_(true(), *(_pair_filter(message, pair) for pair in _pairs(group)))


def _pair_filter(message: Any, pair: Pair) -> ColumnElement[bool]:
    key, value = pair
    if key == RUN:
        prefix = literal("campaign:") + cast(message.campaign_id, String) + literal(f":{int(value)}:%")
        return message.idempotency_key.like(prefix)
    return message.analysis[key].as_string() == value


def _within(column: Any, window: Window) -> ColumnElement[bool]:
    since, until = window
    return and_(column >= since if since is not None else true(), column < until if until is not None else true())


def unpriced(message: Any) -> ColumnElement[bool]:
    """The texts among ``message`` (the table or an alias) whose cost is unknown: sent or delivered by a
    provider that said no price (SMPP never does). A text that failed without a price was charged nothing,
    and the simulator charges nothing: their cost is known, 0. A report summing prices read such a
    campaign's cost as 0.00."""
    return and_(message.price_micros.is_(None), message.status.in_(SENT_STATUSES),
                func.coalesce(message.provider, "") != FREE_CHANNEL)


@dataclass(frozen=True)
class Pricing:
    """What a campaign's cost rests on. ``simulated``: it sent texts and every one went through the
    simulator, which charges nothing (its 0.00 is true, no miss of an estimate made at a provider's price).
    ``unpriced``: texts sent without a price (:func:`unpriced`): the sum of the prices is then a floor of
    the cost, and no cost at all when none said one."""

    simulated: bool = False
    unpriced: int = 0


def pricing(session: Session, campaign: Campaign) -> Pricing:
    """The campaign's :class:`Pricing` (see :func:`pricings`)."""
    return pricings(session, [campaign.id])[campaign.id]


def pricings(session: Session, campaign_ids: list[int]) -> dict[int, Pricing]:
    """Each campaign's :class:`Pricing`, in one query over their outbound texts that reached a provider."""
    free = and_(Message.provider == FREE_CHANNEL, Message.price_micros.is_(None))
    rows = session.execute(
        select(Message.campaign_id, func.count(), func.count().filter(free), func.count().filter(unpriced(Message)))
        .where(Message.campaign_id.in_(campaign_ids), Message.direction == "out",
               Message.status.in_((*SENT_STATUSES, *FAILED_STATUSES)))
        .group_by(Message.campaign_id)
    ).all()
    found = {of: Pricing(simulated=bool(done) and done == simulated, unpriced=int(missing))
             for of, done, simulated, missing in rows}
    return {campaign_id: found.get(campaign_id, Pricing()) for campaign_id in campaign_ids}


def _counts(session: Session, campaign_id: int, group: Group) -> dict[str, Any]:
    # segments of the texts that reached a provider only, as the cost: the console reads "Cost (N segments)"
    reached = Message.status.in_((*SENT_STATUSES, *FAILED_STATUSES))
    rows = session.execute(
        select(Message.status, Message.error_code, func.count(), func.coalesce(func.sum(Message.price_micros), 0),
               func.coalesce(func.sum(Message.segments).filter(reached), 0), func.count().filter(unpriced(Message)))
        .where(Message.campaign_id == campaign_id, Message.direction == "out", in_group(Message, group))
        .group_by(Message.status, Message.error_code)
    ).all()
    out: dict[str, Any] = {"messages": 0, "queued": 0, "sending": 0, "sent": 0, "delivered": 0, "failed": 0,
                           "rejected": 0, "failed_by_reason": {}, "rejected_by_reason": {}, "cost_micros": 0,
                           "unpriced_messages": 0, "cost_complete": True, "segments": 0}
    for status, code, n, cost, segments, missing in rows:
        out["messages"] += n
        out["cost_micros"] += int(cost or 0)
        out["unpriced_messages"] += int(missing)
        out["cost_complete"] = not out["unpriced_messages"]
        out["segments"] += int(segments or 0)
        if status in ("queued", "accepted"):
            out["queued"] += n
        elif status == "sending":
            out["sending"] += n
        elif status in SENT_STATUSES:
            out["sent"] += n
            out["delivered"] += n if status == "delivered" else 0
        elif status in FAILED_STATUSES:
            out["sent"] += n
            out["failed"] += n
            out["failed_by_reason"][code or "unknown"] = out["failed_by_reason"].get(code or "unknown", 0) + n
        elif status == "rejected":
            out["rejected"] += n
            out["rejected_by_reason"][code or "unknown"] = out["rejected_by_reason"].get(code or "unknown", 0) + n
    return out


def _after_message(session: Session, campaign: Campaign, group: Group, counted: Any,
                   condition: Any, time_column: Any) -> int:
    out = aliased(Message)
    horizon = (campaign.completed_at or utcnow()) + timedelta(days=ATTRIBUTION_DAYS)
    stmt = (
        select(func.count(distinct(out.contact_id)))
        .select_from(out)
        .join(counted, condition(out))
        .where(out.campaign_id == campaign.id, out.direction == "out", time_column > out.created_at,
               time_column <= horizon, in_group(out, group))
    )
    return int(session.scalar(stmt) or 0)


def recipients(campaign_id: int, group: Group) -> Select[int]:
    """The contacts the campaign's messages of ``group`` went to (a subquery): the clicks and conversions a
    report of ``group`` counts are theirs."""
    out = aliased(Message)
    return select(out.contact_id).where(out.campaign_id == campaign_id, out.direction == "out",
                                        in_group(out, group))


def counted_conversions(campaign_id: int, group: Group, window: Window) -> ColumnElement[bool]:
    """Which conversions a report of ``group`` counts: the campaign's, recorded within ``window``, by a
    recipient of the group's messages; a conversion without a contact belongs to no arm or send-time group,
    but to a run by its time."""
    anonymous = all(key == RUN for key, _ in _pairs(group))
    return and_(Conversion.campaign_id == campaign_id, _within(Conversion.created_at, window),
                or_(Conversion.contact_id.in_(recipients(campaign_id, group)),
                    and_(Conversion.contact_id.is_(None), true() if anonymous else false())))


def counted_clicks(campaign_id: int, group: Group, window: Window) -> ColumnElement[bool]:
    """Which link clicks a report of ``group`` counts: on the campaign's links, within ``window``, by a
    recipient of the group's messages."""
    return and_(LinkClick.campaign_id == campaign_id, LinkClick.contact_id.in_(recipients(campaign_id, group)),
                _within(LinkClick.clicked_at, window))


def _engagement(session: Session, campaign: Campaign, group: Group, window: Window = (None, None)) -> dict[str, Any]:
    clicks, unique_clicks = session.execute(
        select(func.count(), func.count(distinct(LinkClick.contact_id)))
        .where(counted_clicks(campaign.id, group, window))
    ).one()
    conversions, value = session.execute(
        select(func.count(), func.coalesce(func.sum(Conversion.value_micros), 0))
        .where(counted_conversions(campaign.id, group, window))
    ).one()
    inbound = aliased(Message)
    replies = _after_message(session, campaign, group, inbound,
                             lambda o: and_(inbound.contact_id == o.contact_id, inbound.direction == "in"),
                             inbound.created_at)
    opt_outs = _after_message(session, campaign, group, ConsentEvent,
                              lambda o: and_(ConsentEvent.contact_id == o.contact_id, ConsentEvent.action == "opt_out"),
                              ConsentEvent.at)
    return {"clicks": int(clicks), "unique_clicks": int(unique_clicks), "replies": replies, "opt_outs": opt_outs,
            "conversions": int(conversions), "conversion_value_micros": int(value)}


def _report(session: Session, campaign: Campaign, group: Group, window: Window = (None, None)) -> dict[str, Any]:
    data = _counts(session, campaign.id, group) | _engagement(session, campaign, group, window)
    # a rate of nothing is undefined: None (JSON null, "n/a" in the exports), never 0.0
    data["delivery_rate"] = round(data["delivered"] / data["sent"], 4) if data["sent"] else None
    base = data["delivered"] or data["sent"]
    data["ctr"] = round(data["unique_clicks"] / base, 4) if base else None
    return data


def summary(session: Session, campaign_id: int) -> dict[str, Any]:
    """Totals of one campaign (all runs)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return {}
    return _report(session, campaign, None)


def first_message(session: Session, campaign_id: int, run: int) -> datetime | None:
    """When the campaign's ``run`` created its first message (``None``: it has none)."""
    first = session.scalar(select(func.min(Message.created_at)).where(
        Message.campaign_id == campaign_id, Message.direction == "out", in_group(Message, (RUN, str(run)))))
    return aware(first) if first is not None else None


def run_summary(session: Session, campaign: Campaign, run: int) -> dict[str, Any]:
    """Totals of one run of ``campaign``: its messages, and the clicks (by its recipients) and conversions
    recorded from its first message until the next run's first message. The first run's window has no
    start, the last run's no end, so a campaign run once gets exactly :func:`summary`. Replies and
    opt-outs count after the run's messages, as in :func:`summary`."""
    return _report(session, campaign, (RUN, str(run)), run_window(session, campaign, run))


def run_window(session: Session, campaign: Campaign, run: int) -> Window:
    """When the clicks and conversions of ``campaign``'s ``run`` count (:func:`run_summary`): from its first
    message (the first run: from the start) until the next run's first message (the last run: no end)."""
    since = first_message(session, campaign.id, run) if run > 1 else None
    return since, first_message(session, campaign.id, run + 1)


def waiting(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Queued messages by wait reason, largest first: count, earliest and latest planned time (ISO, UTC), the
    explanation of the message planned first ("quiet hours until Mon 08:00 Europe/Paris") and how many different
    explanations the group holds (``details``): a best-time campaign's group read "best time: 13:00 …" for all five
    messages, two of them at other best hours and three at the holdout's random times."""
    queued = (Message.campaign_id == campaign_id, Message.direction == "out", Message.status == "queued")
    groups = session.execute(
        select(Message.wait_reason, func.count(), func.min(Message.not_before), func.max(Message.not_before),
               func.count(distinct(Message.wait_detail))).where(*queued)
        .group_by(Message.wait_reason)
    ).all()
    out = []
    for reason, n, first, last, details in sorted(groups, key=lambda g: -g[1]):
        detail = session.scalar(
            select(Message.wait_detail).where(*queued, Message.wait_reason == reason)
            .order_by(Message.not_before, Message.id).limit(1)
        ) if reason else ""
        out.append({"reason": reason or "due", "count": int(n), "detail": detail or "",
                    "next_at": aware(first).isoformat() if first is not None else None,
                    "last_at": aware(last).isoformat() if last is not None else None, "details": int(details)})
    return out


def campaign_report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Totals, skipped recipients, why queued messages wait, and one block per A/B arm."""
    report: dict[str, Any] = {"campaign_id": campaign.id, "name": campaign.name, "status": campaign.status,
                              "run": campaign.run, "skipped": campaign.skipped, "ab_winner": campaign.ab_winner,
                              "totals": _report(session, campaign, None), "waiting": waiting(session, campaign.id),
                              "arms": {}}
    for arm in (campaign.ab or {}).get("arms", []):
        report["arms"][arm["name"]] = _report(session, campaign, ("ab_arm", str(arm["name"])))
    report["send_time"] = send_time_report(session, campaign)
    return report


def send_time_report(session: Session, campaign: Campaign) -> dict[str, Any] | None:
    """The best-time section: per group (best_time, random_time) the usual figures and rates, the
    lift in click and conversion rate with its 95 % interval, and the model's choice in words;
    ``None`` for a campaign without the option."""
    if not campaign.send_time:
        return None
    groups = {name: _report(session, campaign, ("send_time", name)) for name in send_time.GROUPS}
    for data in groups.values():
        base = data["delivered"] or data["sent"]
        data["reply_rate"] = round(min(data["replies"], base) / base, 4) if base else None
        data["conversion_rate"] = round(min(data["conversions"], base) / base, 4) if base else None

    def outcome(name: str, key: str) -> tuple[int, int]:
        base = groups[name]["delivered"] or groups[name]["sent"]
        return min(int(groups[name][key]), base), base

    lifts = [send_time.lift(metric, outcome(send_time.BEST, key), outcome(send_time.RANDOM, key))
             for metric, key in (("click", "unique_clicks"), ("conversion", "conversions"))]
    return {"holdout": campaign.send_time.get("holdout", send_time.DEFAULT_HOLDOUT), "groups": groups,
            "lift": {lift.metric: lift.as_dict() for lift in lifts},
            "model": send_time.model_status(session).as_dict()}


def arm_results(session: Session, campaign: Campaign, *, metric: str, run: int | None = None) -> list[ArmResult]:
    """Per arm: messages sent and successes of ``metric`` (clicks, replies or conversions), by contact; of
    every run, or with ``run`` of that run only (its messages, its clicks and conversions: :func:`run_window`)."""
    key = {"clicks": "unique_clicks", "replies": "replies", "conversions": "conversions"}[metric]
    window = run_window(session, campaign, run) if run is not None else (None, None)
    results = []
    for arm in campaign.ab.get("arms", []):
        group: Pair = ("ab_arm", str(arm["name"]))
        data = _report(session, campaign, group if run is None else (group, (RUN, str(run))), window)
        results.append(ArmResult(name=str(arm["name"]), sent=data["sent"] or data["messages"] - data["rejected"],
                                 successes=int(data[key])))
    return results


def timeseries(session: Session, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per day over every campaign: sent, delivered, failed, cost (the prices known, with the texts sent
    without one: :func:`unpriced`), clicks."""
    day = func.date(Message.created_at)
    rows = session.execute(
        select(day, Message.status, func.count(), func.coalesce(func.sum(Message.price_micros), 0),
               func.count().filter(unpriced(Message)))
        .where(Message.campaign_id.is_not(None), Message.direction == "out",
               Message.created_at >= since, Message.created_at < until)
        .group_by(day, Message.status).order_by(day)
    ).all()
    days: dict[str, dict[str, Any]] = {}
    for d, status, n, cost, missing in rows:
        entry = days.setdefault(str(d), _day(str(d)))
        entry["cost_micros"] += int(cost)
        entry["unpriced_messages"] += int(missing)
        if status in SENT_STATUSES or status in FAILED_STATUSES:
            entry["sent"] += n
        entry["delivered"] += n if status == "delivered" else 0
        entry["failed"] += n if status in FAILED_STATUSES else 0
    click_day = func.date(LinkClick.clicked_at)
    for d, n in session.execute(
        select(click_day, func.count()).where(LinkClick.campaign_id.is_not(None), LinkClick.clicked_at >= since,
                                              LinkClick.clicked_at < until).group_by(click_day)
    ):
        days.setdefault(str(d), _day(str(d)))["clicks"] += int(n)
    return [days[k] for k in sorted(days)]


def _day(date: str) -> dict[str, Any]:
    return {"date": date, "sent": 0, "delivered": 0, "failed": 0, "cost_micros": 0, "unpriced_messages": 0,
            "clicks": 0}
