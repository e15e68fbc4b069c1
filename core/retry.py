"""Retrying calls to other services: one policy for HubSpot, a CSV host, an LLM endpoint, customers' webhook URLs.

What a user of Twilio or Klaviyo expects of an integration under load, and what this module does:

* ``429 Too Many Requests``, ``408 Request Timeout`` and ``5xx`` (but 501) are retried, a bounded number of times;
  so are network failures (connection refused or reset, a read timeout);
* the wait is the server's ``Retry-After`` when it sends one (seconds or an HTTP date, :func:`retry_after`), never
  less than the backoff, and otherwise exponential backoff with full jitter (``base * 2**n`` capped at
  ``max_delay``, a random part of it, so many clients told to wait do not all come back at the same instant);
* a server asking for more than ``max_delay`` is not hammered early: the call stops at once and says how long
  the server asked for (a sync resumes from its cursor at its next run);
* any other ``4xx`` is not retried (the same request gets the same answer): :class:`CallFailed` names the call,
  its status and that it was not retried.

The policy's ``sleep`` and ``random`` are fields, so tests drive it with a controlled clock; :class:`Tally` adds up
what one run met (retries, rate limits, time waited) for the result an admin reads. Adapters turn their client
library's error into a :class:`Failure` (status, ``Retry-After``, words); everything else stays theirs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from core.errors import RelaisError

T = TypeVar("T")


def retryable(status: int | None) -> bool:
    """Whether an answer with this status (``None``: no answer, a network failure) is worth asking again."""
    return status is None or status in (408, 429) or (500 <= status <= 599 and status != 501)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds (``"30"``) or an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``, counted from ``now``); ``None`` when absent or unreadable.
    A date in the past is 0."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header's value from any client library's headers, whatever the case of its name."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return None


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as the adapter read it: ``status`` (``None`` when no answer came), the server's
    ``Retry-After`` in seconds, words for the error; ``retry`` overrides :func:`retryable` when set."""

    status: int | None
    reason: str
    retry_after: float | None = None
    retry: bool | None = None

    @property
    def worth_retrying(self) -> bool:
        return retryable(self.status) if self.retry is None else self.retry


@dataclass
class Tally:
    """What the calls of one run met: read by the run's result (``retries``, ``rate_limited``, ``waited_seconds``)."""

    retries: int = 0
    rate_limited: int = 0  # answers 429
    waited_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"retries": self.retries, "rate_limited": self.rate_limited,
                "waited_seconds": round(self.waited_seconds, 1)}


class CallFailed(RelaisError):
    """A call to another service failed for good: not retryable, or still failing when the attempts ran out.

    ``status`` is the last answer's (``None``: no answer), ``rate_limited`` whether it was a 429,
    ``retry_after`` what the server last asked to wait (seconds), ``attempts`` how many were made.
    """

    status_code = 502
    title = "Upstream service unavailable"

    def __init__(self, detail: str, *, failure: Failure, attempts: int) -> None:
        super().__init__(detail)
        self.status = failure.status
        self.rate_limited = failure.status == 429
        self.retry_after = failure.retry_after
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` in all, waits from ``base`` doubling up to ``max_delay`` seconds.

    ``jitter`` spreads the backoff (full jitter); a job queue that schedules attempts far apart may turn it off.
    """

    attempts: int = 5
    base: float = 1.0
    max_delay: float = 60.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the first) when the server said nothing."""
        ceiling = min(self.base * 2 ** max(retry - 1, 0), self.max_delay)
        return ceiling * self.random() if self.jitter else ceiling

    def wait(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry ``retry``: the server's ``Retry-After`` when longer than the backoff,
        else the backoff; ``None`` when the server asks for more than ``max_delay`` (do not ask early)."""
        if retry_after is not None and retry_after > self.max_delay:
            return None
        return max(self.backoff(retry), retry_after or 0.0)

    def call(self, name: str, attempt: Callable[[], T], *, failure: Callable[[Exception], Failure | None],
             tally: Tally | None = None) -> T:
        """``attempt()``'s value, retried by this policy; ``name`` says the call in errors ("HubSpot GET
        contacts page").

        ``failure`` reads an exception ``attempt`` raised as a :class:`Failure`, or ``None`` for one that is no
        failure of the other service (a bug, a refused URL): that one is raised as it is.

        Raises:
            CallFailed: not retryable, the attempts ran out, or the server asked for a longer wait than allowed.
        """
        tally = tally if tally is not None else Tally()
        for number in range(1, self.attempts + 1):
            try:
                return attempt()
            except Exception as exc:
                failed = failure(exc)
                if failed is None:
                    raise
            tally.rate_limited += failed.status == 429
            if not failed.worth_retrying:
                raise CallFailed(f"{name}: {failed.reason} (not retried: the same request gets the same answer)",
                                 failure=failed, attempts=number)
            delay = self.wait(number, failed.retry_after)
            if delay is None:
                raise CallFailed(f"{name}: {failed.reason}, asked to wait {failed.retry_after:.0f} s (longer than the "
                                 f"{self.max_delay:.0f} s this call waits)", failure=failed, attempts=number)
            if number == self.attempts:
                raise CallFailed(f"{name}: {failed.reason} after {number} attempts", failure=failed, attempts=number)
            self.sleep(delay)
            tally.retries += 1
            tally.waited_seconds += delay
        raise AssertionError("unreachable: attempts >= 1")  # pragma: no cover
