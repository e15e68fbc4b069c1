"""Jobs of the agent package: intent model training (queued by :mod:`agent.intent_jobs`)."""

from __future__ import annotations

from core.settings import get_settings


def train_intents(job_id: int) -> str:
    """Train and store the model of training job ``job_id``; returns its final status."""
    from agent.intent_jobs import run_training

    return run_training(job_id, get_settings())
