"""Retry policy of the delivery engine: exponential backoff with jitter, then the dead-letter state."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` provider calls in all; the wait after attempt n is ``base·2^(n-1)`` capped,
    times a random factor in [0.5, 1] ("equal jitter") so retries of a burst spread out."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    cap_seconds: float = 900.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        raw = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return raw * (0.5 + 0.5 * (rng or random).random())

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
