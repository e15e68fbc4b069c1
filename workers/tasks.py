"""Periodic jobs of the worker layer: the delivery engine's recovery sweeps (see workers/jobs/send.py)."""

from __future__ import annotations

from workers.jobs.send import PERIODIC

__all__ = ["PERIODIC"]
