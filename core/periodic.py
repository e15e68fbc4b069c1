"""Declaring periodic jobs without importing the worker layer.

A domain package lists ``PERIODIC = (Periodic(...), ...)`` in its ``tasks.py``; the scheduler in
``workers/scheduler.py`` discovers them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    """Run job ``func`` (dotted path, no arguments) every ``every_seconds`` on ``queue``."""

    name: str
    every_seconds: int
    func: str
    queue: str = "default"
