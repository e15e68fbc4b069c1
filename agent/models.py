"""The agent's shared state: intent model versions, their activations, the business profile and
intent training jobs.

These live in the database (not in one host's data folder) so every API replica and every worker
sees the same active model and profile; vectors live in Qdrant. Model weights are stored as
``numpy.savez`` bytes (read back with ``allow_pickle=False``) and a fine-tuned encoder as an
uncompressed tar of its sentence-transformers folder (safetensors): no pickle crosses hosts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class IntentModel(Base):
    """One trained intent model version (immutable once written)."""

    __tablename__ = "intent_models"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    backend: Mapped[str] = mapped_column(String(200))
    spec_hash: Mapped[str] = mapped_column(String(64))
    intents: Mapped[list[str]] = mapped_column(JSON, default=list)
    # format, temperature, threshold, oos_log_ratio, metrics
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spec_yaml: Mapped[str] = mapped_column(Text)
    head: Mapped[bytes] = mapped_column(LargeBinary)
    encoder: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class IntentActivation(Base):
    """An activation, in order: the newest row names the active version; the rows before it are
    the history a rollback walks back through."""

    __tablename__ = "intent_model_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(ForeignKey("intent_models.version", ondelete="CASCADE"), index=True)
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BusinessProfileRow(Base):
    """The deployment's business profile (brand voice, hours) as the YAML it was given; one row."""

    __tablename__ = "business_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntentTrainingJob(Base):
    """A request to train an intent model, run by a worker (``POST /api/v1/intents``)."""

    __tablename__ = "intent_training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, running, succeeded, failed
    stage: Mapped[str] = mapped_column(String(32), default="queued")  # queued, training, storing, done
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    spec_yaml: Mapped[str] = mapped_column(Text)
    activate: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
