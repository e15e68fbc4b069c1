"""Writing and reading stored predictions (see :mod:`intelligence.models`).

The scoring job registers the model version it trained (:func:`register_version`) and writes the
scores of one kind in one batch (:func:`write_predictions`): the batch replaces the contacts'
previous rows of that kind, so each contact keeps one current prediction per kind. Readers ask
for a contact's current predictions (:func:`current`); the newest row wins should two exist (a
merge of two scored contacts leaves two until the next run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from contacts.models import PREDICTION_KINDS, Prediction
from core.db import utcnow
from core.errors import ValidationFailed
from intelligence.models import ModelVersion

BATCH = 1000


@dataclass(frozen=True)
class Score:
    """One contact's value of one kind, with what else a segment or template may use."""

    contact_id: int
    value: float
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Current:
    """A stored prediction as readers see it."""

    kind: str
    value: float
    detail: dict[str, Any]
    version: str
    computed_at: datetime


def register_version(
    session: Session, *, kind: str, version: str, metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None, trained_at: datetime | None = None,
) -> ModelVersion:  # fmt: skip
    """The model version ``kind``/``version``, created on first call (a re-run finds it unchanged)."""
    found = session.scalar(select(ModelVersion).where(ModelVersion.kind == kind, ModelVersion.version == version))
    if found is not None:
        return found
    row = ModelVersion(kind=kind, version=version, metrics=dict(metrics or {}), params=dict(params or {}),
                       trained_at=trained_at or utcnow())  # fmt: skip
    session.add(row)
    session.flush()
    return row


def write_predictions(
    session: Session, model: ModelVersion, scores: Iterable[Score], *, computed_at: datetime | None = None
) -> int:
    """Store ``scores`` as the current predictions of ``model.kind``; returns how many were written.

    Each scored contact's earlier rows of this kind are replaced; contacts not in ``scores`` keep
    theirs. A contact scored twice in one batch is refused (``ValidationFailed``): the caller has a bug.
    """
    if model.kind not in PREDICTION_KINDS:
        raise ValidationFailed(f"{model.kind!r} is no prediction kind; known: {', '.join(PREDICTION_KINDS)}")
    moment = computed_at or utcnow()
    rows = [
        {"contact_id": s.contact_id, "kind": model.kind, "value": float(s.value), "detail": dict(s.detail),
         "model_version_id": model.id, "computed_at": moment}
        for s in scores
    ]  # fmt: skip
    contact_ids = [row["contact_id"] for row in rows]
    if len(set(contact_ids)) != len(contact_ids):
        raise ValidationFailed(f"a {model.kind} batch scores some contact twice")
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        session.execute(
            delete(Prediction)
            .where(Prediction.kind == model.kind, Prediction.contact_id.in_([r["contact_id"] for r in chunk]))
            .execution_options(synchronize_session=False)
        )
        session.execute(insert(Prediction), chunk)
    session.flush()
    return len(rows)


def current(session: Session, contact_id: int) -> dict[str, Current]:
    """The contact's current prediction of each kind, by kind (empty when never scored)."""
    rows = session.execute(
        select(Prediction, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .where(Prediction.contact_id == contact_id)
        .order_by(Prediction.computed_at, Prediction.id)
    )
    found: dict[str, Current] = {}
    for prediction, version in rows:  # oldest first: the newest of a kind is written last
        found[prediction.kind] = Current(kind=prediction.kind, value=prediction.value, detail=prediction.detail or {},
                                         version=version, computed_at=prediction.computed_at)  # fmt: skip
    return found


def erase(session: Session, contact_id: int) -> int:
    """Delete a contact's predictions (erasure: they are derived personal data); returns how many."""
    result = session.execute(
        delete(Prediction).where(Prediction.contact_id == contact_id).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
