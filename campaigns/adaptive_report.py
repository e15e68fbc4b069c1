"""The report section of an adaptive campaign: allocation over time, per-arm rates, lift over the control.

Every figure is the campaign's current run's (``run`` in the section): its batches, its control, its
messages (their idempotency key names the run) and the clicks and conversions of its window
(``campaigns.reporting.run_window``). Each run of a recurring campaign tests afresh, so mixing an earlier
run's recipients into a rate would set the batches and the control of one run against the arms of all.

Two yardsticks, each stated in the section:

* **the test metric** (clicks, replies or conversions per message sent, as the bandit saw it) per
  variant, with a 95 % Wilson interval; the control has no message, so no such rate;
* **purchases**: the share of recipients with an order (``contacts.models.Order``, not cancelled)
  within ``ATTRIBUTION_DAYS`` after their message, or, for the control, after their batch was
  allocated. It is the one outcome the control can have, so the lift over the control (each
  variant's and all variants' purchase rate minus the control's) is measured on it, with
  Newcombe's 95 % interval. Recipients count as treated whether or not their message was
  delivered (intention to treat), except messages rejected before sending. Undefined figures
  (an empty group) are None, shown "n/a".
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import adaptive
from campaigns.models import Campaign
from campaigns.reporting import ARM, ATTRIBUTION_DAYS, FAILED_STATUSES, RUN, SENT_STATUSES, arm_results, in_group
from campaigns.scheduling import aware
from contacts.models import Order
from conversations.models import Message

Z95 = 1.96
_CHUNK = 5000


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """95 % Wilson interval of a rate; None without observations."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(a: tuple[int, int], b: tuple[int, int]) -> dict[str, float] | None:
    """Rate of ``a`` minus rate of ``b`` ((successes, n) each) with Newcombe's 95 % interval; None if either is empty.

    Newcombe's hybrid score interval combines each rate's Wilson interval, so it stays honest where
    the normal approximation collapses (no purchase in either group gives 0 ± 0 there).
    """
    (sa, na), (sb, nb) = a, b
    wa, wb = wilson(sa, na), wilson(sb, nb)
    if wa is None or wb is None:
        return None
    pa, pb = sa / na, sb / nb
    low = pa - pb - math.sqrt((pa - wa[0]) ** 2 + (wb[1] - pb) ** 2)
    high = pa - pb + math.sqrt((wa[1] - pa) ** 2 + (pb - wb[0]) ** 2)
    return {"lift": pa - pb, "low": low, "high": high}


def _rate(successes: int, n: int) -> dict[str, Any]:
    interval = wilson(successes, n)
    return {"n": n, "successes": successes, "rate": successes / n if n else None,
            "low": interval[0] if interval else None, "high": interval[1] if interval else None}


def bought(session: Session, members: list[tuple[int, datetime]]) -> list[bool]:
    """Whether each of ``members`` (contact, from when) ordered within ``ATTRIBUTION_DAYS`` after that moment."""
    window = timedelta(days=ATTRIBUTION_DAYS)
    found: list[bool] = []
    for i in range(0, len(members), _CHUNK):
        part = members[i:i + _CHUNK]
        start, end = min(at for _, at in part), max(at for _, at in part) + window
        orders: dict[int, list[datetime]] = defaultdict(list)
        for contact_id, at in session.execute(
            select(Order.contact_id, Order.ordered_at)
            .where(Order.contact_id.in_({c for c, _ in part}), Order.cancelled_at.is_(None),
                   Order.ordered_at > start, Order.ordered_at <= end)
        ):
            orders[contact_id].append(aware(at))
        found.extend(any(since < at <= since + window for at in orders[c]) for c, since in part)
    return found


def buyers(session: Session, members: list[tuple[int, datetime]]) -> int:
    """How many of ``members`` (contact, from when) ordered within ``ATTRIBUTION_DAYS`` after that moment."""
    return sum(bought(session, list(dict(members).items())))  # a contact counts once


def _treated(session: Session, campaign: Campaign) -> dict[str, list[tuple[int, datetime]]]:
    by_arm: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for contact_id, arm, at in session.execute(
        select(Message.contact_id, ARM, Message.created_at)
        .where(Message.campaign_id == campaign.id, Message.direction == "out", Message.status != "rejected",
               in_group(Message, (RUN, str(campaign.run))))
    ):
        by_arm[str(arm or "")].append((contact_id, aware(at)))
    return by_arm


#: a message prepared but not gone yet (waiting for its window, its best hour, a lane)
WAITING = ("queued", "accepted", "sending")


def _progress(session: Session, campaign: Campaign) -> dict[str, tuple[int, int]]:
    """Per arm of the current run: messages that reached the provider, and messages still waiting to go."""
    went = Message.status.in_((*SENT_STATUSES, *FAILED_STATUSES))
    return {str(arm or ""): (int(sent), int(waiting)) for arm, sent, waiting in session.execute(
        select(ARM, func.count().filter(went), func.count().filter(Message.status.in_(WAITING)))
        .where(Message.campaign_id == campaign.id, Message.direction == "out",
               in_group(Message, (RUN, str(campaign.run))))
        .group_by(ARM))}


def _arm_rate(result: dict[str, Any], progress: tuple[int, int]) -> dict[str, Any]:
    """A variant's test-metric rate as the report shows it, with ``waiting`` (its messages not gone yet). Before
    any of them went, there is no rate (``n`` 0): the bandit counts prepared messages, and the report read
    "Sent 3, click rate 0.0 % (0.0 % – 56.2 %)" for three texts waiting for tomorrow's best hour."""
    sent, waiting = progress
    return {**(result if sent else _rate(0, 0)), "waiting": waiting}


def section(session: Session, campaign: Campaign) -> dict[str, Any] | None:
    """The adaptive block of ``campaign``'s report, its current run's (``run``); None for a campaign that is
    not adaptive."""
    if not adaptive.is_adaptive(campaign):
        return None
    ab = campaign.ab
    names = [str(arm["name"]) for arm in ab["arms"]]
    rows = adaptive.history(session, campaign)
    stop = next((row for row in rows if row.stopped), None)
    if stop is not None:
        why = adaptive.describe_stop(stop, ab)
    elif campaign.phase == "done":
        why = "the audience ran out before any variant was clearly best; no winner"
    else:
        why = "still testing"
    # the bandit splits the next batch once the texts planned so far went (their best hour, a window) and had
    # ``batch_minutes`` to bring results (``adaptive.next_batch_at``): "still testing" alone left a day's wait unsaid
    upcoming = (aware(campaign.ab_decide_at) if stop is None and campaign.phase == "batch_wait"
                and campaign.ab_decide_at is not None else None)
    progress = _progress(session, campaign)
    waiting = sum(w for _, w in progress.values())
    if waiting:
        why += (f"; {waiting} message{'s' if waiting != 1 else ''} still wait{'' if waiting != 1 else 's'} to be "
                "sent, so the rates below are not final")
    metric = {r.name: _arm_rate(_rate(r.successes, r.sent), progress.get(r.name, (0, 0)))
              for r in arm_results(session, campaign, metric=str(ab["metric"]), run=campaign.run)}
    control = adaptive.control_members(session, campaign)
    treated = _treated(session, campaign)
    control_bought = (buyers(session, control), len(control))
    purchases = {"control": _rate(*control_bought)}
    lifts = {}
    everyone = [m for name in names for m in treated.get(name, [])]
    for name, members in [*((n, treated.get(n, [])) for n in names), ("all variants", everyone)]:
        bought = (buyers(session, members), len(members))
        purchases[name] = _rate(*bought)
        lifts[name] = difference(bought, control_bought)
    return {
        "run": campaign.run, "metric": ab["metric"], "control_share": ab["control_share"], "threshold": ab["threshold"],
        "winner": campaign.ab_winner, "stopped": stop.stopped if stop else "", "why": why,
        "batches": [{"batch": row.batch, "at": aware(row.at).isoformat(),
                     "counts": {a["name"]: a["count"] for a in row.arms},
                     "p_best": {a["name"]: a["p_best"] for a in row.arms if a["name"] != adaptive.CONTROL}}
                    for row in rows],
        "arms": {name: metric.get(name, _arm_rate(_rate(0, 0), (0, 0))) for name in names},
        "purchases": purchases, "lift": lifts, "attribution_days": ATTRIBUTION_DAYS,
        "next_batch_at": upcoming.isoformat() if upcoming is not None else None,
    }
