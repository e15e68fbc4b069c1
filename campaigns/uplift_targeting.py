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
why. :func:`score` chooses the learner on this deployment's own data (:func:`learner`: the same
out-of-fold ``intelligence.uplift.choose`` as the Hillstrom suite, or the simplest learner when the
data are too few to choose on), trains it and stores each contact's uplift as the prediction kind
``uplift`` (``intelligence.store``) with the model version (learner, validation figures, why it was
chosen). The daily job (``campaigns.tasks.score_uplift``) runs it beside the other predictions'
daily scoring, so scores follow the contacts' latest orders and the latest controlled campaigns;
the segment rule
``{"field": "prediction", "kind": "uplift", "op": "gt", "value": 0}`` (``contacts.segments``)
keeps the contacts the message is expected to move (``top_percent`` works too: each value carries
its percentile). :func:`planner` says, for an audience, how
many it targets and the expected incremental buyers (the sum of their uplifts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

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
from intelligence.uplift import Choice, UpliftModel, candidate_name, choose

MIN_GROUP = 100
MIN_BUYERS = 10
#: Buyers and non-buyers each group needs before learners are compared: below it, each of the five
#: validation folds holds a handful of buyers and the comparison is noise, so the simplest stays.
MIN_CHOICE_BUYERS = 50
#: The learner used without a choice, and the first candidate (kept unless another clearly wins).
SIMPLEST = "two_model_lr"
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
    learner: str = ""  # the learner trained, once scored


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


def _fewest(found: Experiment) -> int:
    """The fewest buyers or non-buyers of the texted and the control group: what a learner has least of."""
    groups = (found.treated, ~found.treated)
    return min(min(int(found.outcome[g].sum()), int((1 - found.outcome[g]).sum())) for g in groups)


def _status(found: Experiment) -> Status:
    treated, control = int(found.treated.sum()), int((~found.treated).sum())
    t_buy, c_buy = int(found.outcome[found.treated].sum()), int(found.outcome[~found.treated].sum())
    figures = (found.campaigns, treated, control, t_buy, c_buy)
    if not found.campaigns:
        return Status(False, "no past campaign kept a control group: run an adaptive campaign first", *figures)
    if min(treated, control) < MIN_GROUP:
        return Status(False, f"{treated} texted and {control} control contacts in {found.campaigns} controlled "
                             f"campaigns; at least {MIN_GROUP} of each are needed", *figures)
    if _fewest(found) < MIN_BUYERS:
        return Status(False, f"{t_buy} buyers among the texted and {c_buy} in the control; at least {MIN_BUYERS} "
                             "buyers and non-buyers in each group are needed", *figures)
    return Status(True, f"learned from {found.campaigns} controlled campaigns: {treated} texted "
                        f"({t_buy} bought), {control} control ({c_buy} bought)", *figures)


def status(session: Session) -> Status:
    """Whether the option can be offered now, and why."""
    return _status(experiment(session))


def candidates(rows: int) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The learners compared on a deployment's ``rows`` controlled contacts, the simplest first; tree
    leaves hold at least max(20, rows/20) contacts, so a few hundred still give a split."""
    leaves = {"min_child_samples": max(20, rows // 20)}
    return ((SIMPLEST, {}), ("t_learner", leaves), ("s_learner", leaves), ("class_transformation", leaves),
            ("x_learner", leaves))


@dataclass(frozen=True)
class Learner:
    """The learner a deployment's data chose, and how (stored with the model version)."""

    choice: Choice
    chosen_by: str


def learner(found: Experiment, *, min_choice_buyers: int = MIN_CHOICE_BUYERS) -> Learner:
    """Choose among :func:`candidates` out of fold on ``found`` (``intelligence.uplift.choose``), or keep
    :data:`SIMPLEST` and say why when either group has fewer than ``min_choice_buyers`` buyers or non-buyers."""
    fewest = _fewest(found)
    if fewest < min_choice_buyers:
        return Learner(Choice(SIMPLEST, {}, {}), f"too little data to compare learners ({fewest} buyers or "
                       f"non-buyers in a group; {min_choice_buyers} are needed): the simplest, {SIMPLEST}")
    choice = choose(found.features, found.treated.astype(int), found.outcome,
                    candidates=candidates(len(found.outcome)), repeats=2, folds=5)
    return Learner(choice, f"best of {len(choice.validation)} learners out of fold (5 folds, twice) on this "
                           f"deployment's controlled campaigns; {SIMPLEST} kept unless another led it by more than "
                           f"the figure's noise ({choice.noise})")


def score(session: Session, *, now: datetime, seed: int = 0, min_choice_buyers: int = MIN_CHOICE_BUYERS) -> Status:
    """Choose the learner on the controlled campaigns, train it and store every contact's uplift with the
    model version (nothing stored when disabled: the status says why)."""
    found = experiment(session)
    verdict = _status(found)
    if not verdict.enabled:
        return verdict
    picked = learner(found, min_choice_buyers=min_choice_buyers)
    method, params = picked.choice.method, picked.choice.params
    model = UpliftModel(method, params, seed=seed).fit(found.features, found.treated, found.outcome)
    frame = order_lines(session)
    ids = list(session.scalars(select(Contact.id).where(Contact.erased.is_(False))))
    current = customer_features(frame, pd.Timestamp(now).tz_convert(None)) if not frame.empty else pd.DataFrame()
    features = current.reindex([str(i) for i in ids]).reindex(columns=found.features.columns).astype(float)
    values = model.predict(features.reset_index(drop=True))
    validation = {name: ("n/a" if figure is None else figure) for name, figure in picked.choice.validation.items()}
    version = store.register_version(
        session, kind=KIND, version=f"{method}-{now:%Y%m%dT%H%M%S}",
        params={"method": method, **params, "learner": candidate_name(method, params)},
        metrics={"training": verdict.reason, "chosen_by": picked.chosen_by,
                 "validation_uplift_top30": validation or "n/a",
                 "validation_noise": "n/a" if picked.choice.noise is None else picked.choice.noise},
        trained_at=now)  # fmt: skip
    ranks = percentiles(values)
    store.write_predictions(session, version, [store.Score(i, float(v), {"percentile": float(r)})
                                               for i, v, r in zip(ids, values, ranks, strict=True)], computed_at=now)
    return replace(verdict, learner=candidate_name(method, params), reason=f"{verdict.reason}; {picked.chosen_by}")


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
