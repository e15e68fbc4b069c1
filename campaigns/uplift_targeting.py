"""Uplift targeting in the product: "text only the contacts the message is likely to change".

The uplift model (``intelligence.uplift``) learns from this deployment's past campaigns that kept
a random control: adaptive campaigns hold a share of each batch back with no message
(``campaigns.adaptive``). Treated are the recipients whose message was not rejected before sending,
control the held-back contacts; the outcome is the one both groups can have, an order within
``ATTRIBUTION_DAYS`` of the message (of the batch, for the control), as the adaptive report measures
lift (``campaigns.adaptive_report.bought``). Features are the contacts' order-history features
(``intelligence.features.customer_features``) as of each campaign's start.

With too little such data (:func:`status`: fewer than :data:`MIN_GROUP` treated or control
contacts, or fewer than :data:`MIN_BUYERS` buyers in either group) the option is disabled and says
why. :func:`score` trains a T-learner (LightGBM; leaves sized to the data) and stores each contact's
uplift as the prediction kind ``uplift`` (``intelligence.store``), so the segment rule
``{"field": "prediction", "kind": "uplift", "op": "gt", "value": 0}`` (``contacts.segments``)
keeps the contacts the message is expected to move (``top_percent`` works too: each value carries
its percentile). :func:`planner` says, for an audience, how
many it targets and the expected incremental buyers (the sum of their uplifts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import adaptive
from campaigns.adaptive_report import bought
from campaigns.models import Campaign, CampaignAllocation
from campaigns.scheduling import aware
from contacts.models import Contact, Prediction
from conversations.models import Message
from intelligence import store
from intelligence.features import customer_features
from intelligence.history import order_lines
from intelligence.models import ModelVersion
from intelligence.scoring import percentiles
from intelligence.uplift import UpliftModel

MIN_GROUP = 100
MIN_BUYERS = 10
KIND = "uplift"


@dataclass(frozen=True)
class Status:
    """Whether uplift targeting can be offered, why (or why not), and the data it rests on."""

    enabled: bool
    reason: str
    campaigns: int
    treated: int
    control: int
    treated_buyers: int
    control_buyers: int


@dataclass(frozen=True)
class Experiment:
    """The past controlled campaigns as one table: features per member, treated flag, outcome."""

    features: pd.DataFrame
    treated: np.ndarray
    outcome: np.ndarray
    campaigns: int


def experiment(session: Session) -> Experiment:
    """Every member of every adaptive campaign's control and variants, with their outcome and features."""
    ids = list(session.scalars(select(CampaignAllocation.campaign_id).distinct()))
    frame = order_lines(session)
    parts, treated, outcome = [], [], []
    for campaign in session.scalars(select(Campaign).where(Campaign.id.in_(ids)).order_by(Campaign.id)):
        control = adaptive.control_members(session, campaign)
        sent = [(c, aware(at)) for c, at in session.execute(
            select(Message.contact_id, Message.created_at)
            .where(Message.campaign_id == campaign.id, Message.direction == "out", Message.status != "rejected"))]
        members = sent + control
        if not members:
            continue
        start = pd.Timestamp(min(at for _, at in members)).tz_convert(None)
        features = customer_features(frame, start) if not frame.empty else pd.DataFrame()
        index = [str(c) for c, _ in members]
        parts.append(features.reindex(index).reset_index(drop=True))
        treated.extend([True] * len(sent) + [False] * len(control))
        outcome.extend(bought(session, members))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return Experiment(table.astype(float), np.array(treated, dtype=bool), np.array(outcome, dtype=int), len(parts))


def _status(found: Experiment) -> Status:
    treated, control = int(found.treated.sum()), int((~found.treated).sum())
    t_buy, c_buy = int(found.outcome[found.treated].sum()), int(found.outcome[~found.treated].sum())
    figures = (found.campaigns, treated, control, t_buy, c_buy)
    if not found.campaigns:
        return Status(False, "no past campaign kept a control group: run an adaptive campaign first", *figures)
    if min(treated, control) < MIN_GROUP:
        return Status(False, f"{treated} texted and {control} control contacts in {found.campaigns} controlled "
                             f"campaigns; at least {MIN_GROUP} of each are needed", *figures)
    low = min(t_buy, c_buy, treated - t_buy, control - c_buy)
    if low < MIN_BUYERS:
        return Status(False, f"{t_buy} buyers among the texted and {c_buy} in the control; at least {MIN_BUYERS} "
                             "buyers and non-buyers in each group are needed", *figures)
    return Status(True, f"learned from {found.campaigns} controlled campaigns: {treated} texted "
                        f"({t_buy} bought), {control} control ({c_buy} bought)", *figures)


def status(session: Session) -> Status:
    """Whether the option can be offered now, and why."""
    return _status(experiment(session))


def score(session: Session, *, now: datetime, seed: int = 0) -> Status:
    """Train on the controlled campaigns and store every contact's uplift (nothing stored when disabled)."""
    found = experiment(session)
    verdict = _status(found)
    if not verdict.enabled:
        return verdict
    leaves = max(20, len(found.outcome) // 20)
    model = UpliftModel("t_learner", {"min_child_samples": leaves}, seed=seed).fit(found.features, found.treated,
                                                                                 found.outcome)
    frame = order_lines(session)
    ids = list(session.scalars(select(Contact.id).where(Contact.erased.is_(False))))
    current = customer_features(frame, pd.Timestamp(now).tz_convert(None)) if not frame.empty else pd.DataFrame()
    features = current.reindex([str(i) for i in ids]).reindex(columns=found.features.columns).astype(float)
    values = model.predict(features.reset_index(drop=True))
    version = store.register_version(session, kind=KIND, version=f"t_learner-{now:%Y%m%dT%H%M%S}",
                                     params={"method": "t_learner", "min_child_samples": leaves},
                                     metrics={"training": verdict.reason}, trained_at=now)
    ranks = percentiles(values)
    store.write_predictions(session, version, [store.Score(i, float(v), {"percentile": float(r)})
                                               for i, v, r in zip(ids, values, ranks, strict=True)], computed_at=now)
    return verdict


def planner(session: Session, contact_ids: list[int]) -> dict[str, float | int]:
    """For an audience: how many the option keeps (uplift above 0) and the expected incremental buyers."""
    kept, incremental = 0, 0.0
    for start in range(0, len(contact_ids), 5000):
        for value in session.scalars(select(Prediction.value).where(
                Prediction.kind == KIND, Prediction.contact_id.in_(contact_ids[start:start + 5000]),
                Prediction.value > 0)):
            kept += 1
            incremental += float(value)
    return {"audience": len(contact_ids), "targeted": kept, "expected_incremental_buyers": round(incremental, 2)}


def latest_model(session: Session) -> ModelVersion | None:
    """The uplift model that made the stored predictions, if one was trained (cheap: the planner's check)."""
    return session.scalar(select(ModelVersion).where(ModelVersion.kind == KIND)
                          .order_by(ModelVersion.trained_at.desc(), ModelVersion.id.desc()).limit(1))
