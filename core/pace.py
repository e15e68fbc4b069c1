"""Keeping under another service's request rate, so its limit is rarely met at all.

A service that allows N requests per window (HubSpot: about 100 per 10 s for a private app) answers 429 past it;
:mod:`core.retry` waits those out, but a sync that only slows down once refused spends most of its time refused.
:class:`Pace` spaces the calls instead: at most ``limit`` in any ``window`` seconds, waiting for the oldest to age
out before the next. Its clock and sleep are fields, so tests drive it without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Pace:
    """At most ``limit`` calls in any ``window`` seconds (a sliding window over the calls' start times)."""

    limit: int
    window: float = 10.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    #: when the calls of the last ``window`` started (clock time)
    sent: deque[float] = field(default_factory=deque, repr=False)
    #: seconds this pace held calls back, for the run's result
    waited_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a pace needs a limit of at least one call per window")

    def wait(self) -> None:
        """Return when one more call keeps within the limit (at once while under it), counting that call."""
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            delay = self.sent[0] + self.window - now
            self.sleep(delay)
            self.waited_seconds += delay
            now = max(self.clock(), self.sent[0] + self.window)
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
        self.sent.append(now)

    def paced(self, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` waiting its turn each time it is made (a retry included: it is a request too)."""

        def attempt() -> T:
            self.wait()
            return call()

        return attempt
