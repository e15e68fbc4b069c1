"""The model versions that made the stored predictions.

A scheduled job scores every contact per deployment and writes one batch per model version
(:mod:`intelligence.store`). The predictions themselves are a contact's data and live with the
contact (``contacts.models.Prediction``), so segment rules can filter on them in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
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
