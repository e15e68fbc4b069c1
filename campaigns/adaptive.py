"""Adaptive campaigns: each batch's split among the variants comes from the bandit, with a fixed control.

A campaign whose ``ab`` says ``mode: adaptive`` (validated by ``campaigns.schemas.AdaptiveIn``)
prepares its audience ``batch_size`` contacts at a time, ``batch_minutes`` apart. Before each batch
:func:`allocate` reads every arm's results so far (messages sent, and successes of the test's
``metric``: unique clickers, repliers within the attribution window, or conversions, as
``campaigns.reporting.arm_results`` counts them) and asks :func:`intelligence.bandit.next_batch`
for the split: ``control_share`` of the batch (rounded) gets no message, the rest is shared by
Thompson sampling. The test stops when one variant is best with probability >= ``threshold``
once ``min_sends`` messages went to the variants (fewer make the posterior swing with luck), or
when ``max_hours`` have passed since the run started (then the most probably best wins); from
then on every non-control recipient gets the winner and batches follow each other without waiting.

Each batch writes one ``CampaignAllocation`` row in the same transaction as its messages, so a
retried job either finds the batch done (the cursor moved) or redoes it from scratch; the draws
are seeded by (campaign, run, batch), so a redone batch makes the same split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, CampaignAllocation
from campaigns.reporting import arm_results
from campaigns.scheduling import aware
from conversations.models import IN_FLIGHT, Message
from intelligence.bandit import ArmStats, control_size, next_batch

MODE = "adaptive"
CONTROL = "control"
#: contacts per chunk once the test has stopped (as a plain campaign prepares)
AFTER_STOP_CHUNK = 5000


def is_adaptive(campaign: Campaign) -> bool:
    return bool(campaign.ab) and campaign.ab.get("mode") == MODE


def chunk_size(campaign: Campaign) -> int:
    """Contacts of the audience the next batch goes through: the test's batch, or large once decided."""
    return AFTER_STOP_CHUNK if campaign.ab_winner else int(campaign.ab["batch_size"])


def waits_between_batches(campaign: Campaign) -> bool:
    """Whether the next batch must wait ``batch_minutes`` for results (an undecided adaptive test)."""
    return is_adaptive(campaign) and not campaign.ab_winner


def next_batch_at(session: Session, campaign: Campaign, now: datetime) -> datetime:
    """When the bandit may split the next batch: ``batch_minutes`` after the last text of the run's earlier
    batches is planned to go (after ``now`` when every text went or is due), and no later than ``max_hours`` after
    the run started, when the stopping rule commits without further results.

    A text waiting for its recipient's best hour (``send_time``), a send window or the throttle has no result to
    learn from: batches split an hour apart while batch 1 waited for the next morning allocated on 0 sends.
    """
    unsent = session.scalar(select(func.max(Message.not_before)).where(
        Message.campaign_id == campaign.id, Message.status.in_(IN_FLIGHT)))
    last = max(aware(unsent), now) if unsent is not None else now
    started = aware(campaign.run_started_at) if campaign.run_started_at else now
    return min(last + timedelta(minutes=int(campaign.ab["batch_minutes"])),
               max(started + timedelta(hours=float(campaign.ab["max_hours"])), now))


def must_wait(session: Session, campaign: Campaign, now: datetime) -> bool:
    """Whether a later batch of an undecided test must wait before the bandit splits it: texts of the run's earlier
    batches have not gone yet (queued or being sent) and :func:`next_batch_at` is still ahead. False for the first
    batch, a decided test, or once ``max_hours`` passed. The preparation job asks before it allocates, whatever
    queued it (the sweep, a resume, a lost job queued again)."""
    if not waits_between_batches(campaign) or not history(session, campaign):
        return False
    pending = session.scalar(select(Message.id).where(
        Message.campaign_id == campaign.id, Message.status.in_(IN_FLIGHT)).limit(1))
    return pending is not None and next_batch_at(session, campaign, now) > now


def planned_batches(campaign: Campaign, audience: Iterable[int], recipients: Iterable[int]) -> dict[int, int]:
    """The batch (0 first) each recipient of an adaptive ``campaign`` will be texted in, the control left out.

    ``audience`` is every contact the segment matches and ``recipients`` those consent and the cap let through.
    Preparation goes through the audience ``batch_size`` contacts at a time in id order (before consent and the
    cap, so a batch may hold fewer recipients), and the control keeps its share of each batch's recipients
    (:func:`intelligence.bandit.control_size`). Which of them the bandit holds back is drawn as the batch is
    prepared, so here the batch's last ones stand in for them: the count per batch is exact, the names are not.
    The campaign wizard plans with this (``plan.distribution``): it planned an adaptive campaign as a fixed A/B
    test, most of the audience "waiting 4 hours for the A/B winner", where the first batch goes at once.
    """
    size, share = int(campaign.ab["batch_size"]), float(campaign.ab["control_share"])
    texted = set(recipients)
    batches: dict[int, list[int]] = {}
    for position, contact_id in enumerate(sorted(audience)):
        if contact_id in texted:
            batches.setdefault(position // size, []).append(contact_id)
    planned: dict[int, int] = {}
    for batch, members in batches.items():
        kept = len(members) - control_size(len(members), share)
        planned.update(dict.fromkeys(members[:kept], batch))
    return planned


@dataclass(frozen=True)
class _Before:
    """What the bandit sees before a batch: the batch number, control size so far, each variant's stats."""

    batch: int
    control_sent: int
    variants: dict[str, ArmStats]


def _before(session: Session, campaign: Campaign) -> _Before:
    done = session.execute(
        select(CampaignAllocation.control_ids)
        .where(CampaignAllocation.campaign_id == campaign.id, CampaignAllocation.run == campaign.run)
    ).scalars().all()
    results = {r.name: r for r in arm_results(session, campaign, metric=str(campaign.ab["metric"]))}
    # successes are counted per contact, sends per message: a click on a not-yet-reported send is clamped
    variants = {name: ArmStats(r.sent, min(r.successes, r.sent)) for name, r in results.items()}
    return _Before(len(done) + 1, sum(len(ids) for ids in done), variants)


def allocate(session: Session, campaign: Campaign, contact_ids: list[int], *, now: datetime) -> dict[int, str | None]:
    """Split this batch's eligible contacts: arm name per contact, None for the control; flush only.

    Records the batch (``CampaignAllocation``) and, when the stopping rule fires, the winner on the
    campaign (``ab_winner``).
    """
    ab = campaign.ab
    names = [str(arm["name"]) for arm in ab["arms"]]
    before = _before(session, campaign)
    stats = [ArmStats(before.control_sent, 0), *(before.variants.get(n, ArmStats(0, 0)) for n in names)]
    rng = np.random.default_rng([campaign.id, campaign.run, before.batch])
    share, threshold = float(ab["control_share"]), float(ab["threshold"])
    stopped = ""
    if campaign.ab_winner:  # committed: the control keeps its share, the winner gets the rest
        arms = [CONTROL, campaign.ab_winner]
        plan = next_batch([stats[0], stats[1 + names.index(campaign.ab_winner)]], len(contact_ids),
                          control=0, control_share=share, threshold=0.0, rng=rng)
        chances = dict.fromkeys(names, None) | {campaign.ab_winner: 1.0}
    else:
        arms = [CONTROL, *names]
        started = aware(campaign.run_started_at) if campaign.run_started_at else now
        expired = now >= started + timedelta(hours=float(ab["max_hours"]))
        # a posterior from a few dozen sends swings with luck: the probability rule waits for min_sends
        evidence = sum(s.sends for s in stats[1:]) >= int(ab["min_sends"])
        plan = next_batch(stats, len(contact_ids), control=0, control_share=share,
                          threshold=0.0 if expired else threshold if evidence else math.inf, rng=rng)
        chances = {n: plan.probability_best[1 + i] for i, n in enumerate(names)}
        if plan.winner is not None:
            campaign.ab_winner = arms[plan.winner]
            stopped = "probability" if plan.probability_best[plan.winner] >= threshold else "max_duration"
    counts = dict(zip(arms, plan.counts, strict=True))
    order = [int(i) for i in rng.permutation(np.asarray(contact_ids, dtype=np.int64))]
    chosen: dict[int, str | None] = {}
    start = 0
    for arm in arms:
        for contact_id in order[start:start + counts[arm]]:
            chosen[contact_id] = None if arm == CONTROL else arm
        start += counts[arm]
    session.add(CampaignAllocation(
        campaign_id=campaign.id, run=campaign.run, batch=before.batch, at=now,
        arms=[{"name": CONTROL, "count": counts[CONTROL], "sends": before.control_sent, "successes": None,
               "p_best": None}]
        + [{"name": n, "count": counts.get(n, 0), "sends": stats[1 + i].sends, "successes": stats[1 + i].successes,
            "p_best": chances[n]} for i, n in enumerate(names)],
        control_ids=sorted(c for c, arm in chosen.items() if arm is None),
        winner=campaign.ab_winner, stopped=stopped,
    ))
    session.flush()
    return chosen


def history(session: Session, campaign: Campaign) -> list[CampaignAllocation]:
    """The batches of the campaign's current run, in order."""
    return list(session.scalars(
        select(CampaignAllocation)
        .where(CampaignAllocation.campaign_id == campaign.id, CampaignAllocation.run == campaign.run)
        .order_by(CampaignAllocation.batch)
    ))


def control_members(session: Session, campaign: Campaign) -> list[tuple[int, datetime]]:
    """Each held-out contact of the current run with the moment their batch was allocated."""
    return [(contact_id, aware(row.at)) for row in history(session, campaign) for contact_id in row.control_ids]


def describe_stop(row: CampaignAllocation, ab: dict[str, Any]) -> str:
    """Why the test stopped at this batch, in words for the report."""
    if row.stopped == "probability":
        best = next(a for a in row.arms if a["name"] == row.winner)
        return (f"{row.winner} was best with probability {best['p_best']:.1%} "
                f"(≥ {float(ab['threshold']):.0%}) before batch {row.batch}")
    return f"{float(ab['max_hours']):g} h passed without a clear best; {row.winner} was the most probably best"
