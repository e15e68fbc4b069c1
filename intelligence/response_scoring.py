"""The prediction kind ``response``: each contact's chance to respond to the next campaign text, learnt daily
from the deployment's own past campaign texts.

One run (:func:`score`) reads the campaign texts and engagement up to ``now`` (:mod:`intelligence.response_history`),
makes one training row per text whose response window has passed (:mod:`intelligence.response_features`: what
was known of the recipient when it went, and whether they responded within the campaign reports' attribution
window), chooses the learner on a split in time (:func:`intelligence.response_learners.choose`), trains it on
every row and stores every live contact's chance with its percentile under one model version per day (a second
run the same day replaces the contacts' rows and the version's figures; nothing is duplicated).

The next text's moment is unknown: contacts are scored as if it went now, at the local hour and weekday most of
the deployment's campaign texts reached their recipients at (each on the recipient's own clock). With too little
history (:func:`shortfall`) nothing is stored and the result says why; :func:`why_none` says the same to the
segment builder and the analysts' summary.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.models import Contact
from conversations.models import Message
from core.db import utcnow
from intelligence import store
from intelligence.models import ModelVersion
from intelligence.response_features import RESPONSE_DAYS, WINDOW, FeatureBuilder, local_clock, training_rows
from intelligence.response_history import REACHED, History, read
from intelligence.response_learners import choose, make, sample
from intelligence.scoring import percentiles

KIND = "response"
MIN_TEXTS = 300
MIN_RESPONSES = 30
MIN_CAMPAIGNS = 2
#: :func:`why_none` reads the history to count responses up to this many texts (under a second); above it,
#: a segment builder asking at each keystroke would wait seconds, and the run's result says why instead
WHY_READS_AT_MOST = 20_000


@dataclass(frozen=True)
class Evidence:
    """What the deployment has to learn from: texts with a known outcome, responses among them, campaigns."""

    texts: int
    responses: int = 0
    campaigns: int = 0


@dataclass
class ResponseResult:
    """What one run did: ``scored`` or not, and why; the learner, version and figures when scored."""

    scored: bool
    reason: str
    evidence: dict[str, int] = field(default_factory=dict)
    learner: str = ""
    version: str = ""
    written: int = 0
    validation: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def shortfall(found: Evidence) -> str | None:
    """Why ``found`` is too little to learn from (``None``: enough)."""
    if found.texts < MIN_TEXTS:
        return (
            f"{found.texts} campaign texts sent at least {RESPONSE_DAYS} days ago (the days a response counts in); "
            f"at least {MIN_TEXTS} are needed to learn who responds (clicks a link, replies, orders)"
        )
    quiet = found.texts - found.responses
    if min(found.responses, quiet) < MIN_RESPONSES:
        return (
            f"{found.responses} of {found.texts} campaign texts were responded to within {RESPONSE_DAYS} days; at "
            f"least {MIN_RESPONSES} with a response and {MIN_RESPONSES} without are needed"
        )
    if found.campaigns < MIN_CAMPAIGNS:
        return (
            f"{found.campaigns} campaign so far: the learner is chosen on the newest campaigns after learning from "
            f"older ones, so at least {MIN_CAMPAIGNS} are needed"
        )
    return None


def _aware(now: datetime | None) -> datetime:
    moment = now or utcnow()
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _known_texts(session: Session, now: datetime) -> int:
    """Campaign texts that reached the phone whose response window has passed (one count, no history read)."""
    went = func.coalesce(Message.sent_at, Message.created_at)
    return int(session.scalar(
        select(func.count()).select_from(Message)
        .where(Message.campaign_id.is_not(None), Message.direction == "out", Message.status.in_(REACHED),
               went <= now - timedelta(seconds=WINDOW))
    ) or 0)  # fmt: skip


def _evidence(rows: pd.DataFrame) -> Evidence:
    return Evidence(len(rows), int(rows["responded"].sum()), int(rows["campaign"].nunique()))


def _usual_moment(history: History) -> tuple[int, int]:
    """The hour and weekday most campaign texts reached their recipients at, on each one's own clock: when the
    next one is assumed to go (a shop texting at 10:00 in Paris and in Montreal sends at 10:00 local, twice)."""
    hour, weekday = local_clock(history.zones, history.sends.contact, history.sends.seconds)
    return int(np.bincount(hour, minlength=24).argmax()), int(np.bincount(weekday, minlength=7).argmax())


def score(session: Session, *, now: datetime | None = None) -> ResponseResult:
    """Learn from the texts before ``now`` (default: the current time) and store every live contact's ``response``.

    Flushes only; the caller commits. Nothing is written when the history is too short (the result says why).
    """
    started = time.monotonic()
    moment = _aware(now)
    known = _known_texts(session, moment)
    if known < MIN_TEXTS:
        return ResponseResult(False, str(shortfall(Evidence(known))), asdict(Evidence(known)),
                              seconds=round(time.monotonic() - started, 2))  # fmt: skip
    history = read(session, until=moment)
    builder = FeatureBuilder(history)
    rows = training_rows(history, builder)
    found = _evidence(rows)
    why = shortfall(found)
    if why is not None:
        return ResponseResult(False, why, asdict(found), seconds=round(time.monotonic() - started, 2))
    choice = choose(rows)
    outcome = rows["responded"].to_numpy()
    learnt = sample(np.ones(len(rows), dtype=bool))
    model = make(choice.learner, int(learnt.sum())).fit(rows[learnt], outcome[learnt])
    ids = np.asarray(session.scalars(select(Contact.id).where(Contact.erased.is_(False)).order_by(Contact.id)).all(),
                     dtype=np.int64)  # fmt: skip
    hour, weekday = _usual_moment(history)
    at = np.full(len(ids), history.until, dtype=np.int64)
    current = builder.features(ids, at, np.full(len(ids), hour), np.full(len(ids), weekday))
    chances = np.clip(model.predict(current), 0.0, 1.0) if len(ids) else np.zeros(0)
    rate = round(float(outcome.mean()), 4)
    training = (
        f"{found.texts} campaign texts of {found.campaigns} campaigns, {found.responses} responded to within "
        f"{RESPONSE_DAYS} days ({rate:.1%})"
    )
    version = _version(session, moment, params={"learner": choice.learner, "assumed_local_hour": hour,
                                                "assumed_local_weekday": weekday, "response_days": RESPONSE_DAYS},
                       metrics={"training": training, "response_rate": rate, "chosen_by": choice.reason,
                                "validation_auc": choice.validation or "n/a",
                                "validation_noise": "n/a" if choice.noise is None else choice.noise,
                                "split": choice.split})  # fmt: skip
    ranks = percentiles(chances)
    texts = current["texts"].to_numpy()
    written = store.write_predictions(session, version, [
        store.Score(int(c), float(v), {"percentile": float(r), "texts": int(n)})
        for c, v, r, n in zip(ids, chances, ranks, texts, strict=True)
    ], computed_at=moment)  # fmt: skip
    return ResponseResult(True, f"learned from {training}; {choice.learner}: {choice.reason}", asdict(found),
                          choice.learner, version.version, written, choice.validation,
                          round(time.monotonic() - started, 2))  # fmt: skip


def _version(session: Session, moment: datetime, *, params: dict[str, Any], metrics: dict[str, Any]) -> ModelVersion:
    """The day's model version: a second run the same day updates its figures rather than adding one."""
    version = store.register_version(session, kind=KIND, version=f"{moment:%Y%m%d}", params=params, metrics=metrics,
                                     trained_at=moment)  # fmt: skip
    version.params, version.metrics, version.trained_at = params, metrics, moment
    session.flush()
    return version


def latest_model(session: Session) -> ModelVersion | None:
    """The response model that made the stored predictions, if one was trained."""
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.kind == KIND)
        .order_by(ModelVersion.trained_at.desc(), ModelVersion.id.desc())
        .limit(1)
    )


def why_none(session: Session, *, now: datetime | None = None) -> str:
    """Why no contact holds a ``response`` prediction: too little campaign history (how much there is), or
    none stored by the last run, or not trained yet. The segment builder asks at each change of a rule, so
    the history's responses are counted only while it holds at most :data:`WHY_READS_AT_MOST` texts."""
    moment = _aware(now)
    known = _known_texts(session, moment)
    why = shortfall(Evidence(known)) if known < MIN_TEXTS else None
    if MIN_TEXTS <= known <= WHY_READS_AT_MOST:
        why = shortfall(_evidence(training_rows(history := read(session, until=moment), FeatureBuilder(history))))
    if why is not None:
        return f"the chance to respond is learnt from this shop's past campaign texts: {why}"
    if latest_model(session) is not None:
        return "the response model's last run stored none for the contacts there are now"
    if known > WHY_READS_AT_MOST:
        return (
            f"{known} campaign texts to learn from, but no run has stored the chance to respond yet (relais "
            "intelligence score, or POST /api/v1/intelligence/score, runs it now and says why if it stores none)"
        )
    return (
        "enough campaign history to learn from, but the daily scoring has not run since "
        "(relais intelligence score, or POST /api/v1/intelligence/score, runs it now)"
    )
