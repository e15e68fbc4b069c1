"""Stored predictions per contact and the model versions that made them.

A scheduled job scores every contact per deployment and writes one batch per model version
(:mod:`intelligence.store`); segments, templates and the console read a contact's current
prediction of each kind. Predictions are derived personal data: erasing a contact deletes them.

There is no unique constraint on (contact, kind): merging two contacts re-points every row that
refers to the merged-away one (``contacts.merge``), and two current rows of one kind must not make
that merge fail. The store keeps one row per contact and kind when it writes, and reads the newest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class ModelVersion(Base):
    """A trained model of one kind: when, with which parameters, and what it measured."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_model_versions_kind_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. purchase_90d, churn, value, send_hour
    version: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Prediction(Base):
    """A contact's current value of one kind of prediction, with the version that computed it."""

    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_contact_kind", "contact_id", "kind"),
                      Index("ix_predictions_kind_value", "kind", "value"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column()
    # what a segment or template may also want: e.g. {"products": [...]} or {"hour": 19, "day": 2}
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
