"""core.retry: Retry-After in both spellings, the backoff, and what is not retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.retry import CallFailed, Failure, RetryPolicy, Tally, retry_after, retryable

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("30") == 30.0 and retry_after(" 0 ") == 0.0
    assert retry_after("Tue, 01 Dec 2026 12:00:45 GMT", now=NOW) == 45.0
    assert retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now=NOW) == 0.0  # in the past: at once
    assert [retry_after(v) for v in (None, "", "soon", "nan", "inf", "-5")] == [None, None, None, None, None, 0.0]


def test_what_is_worth_asking_again() -> None:
    assert [s for s in (None, 400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504) if retryable(s)] == [
        None, 408, 429, 500, 502, 503, 504]


def test_waits_follow_retry_after_and_backoff_within_bounds() -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, base=1.0, max_delay=10.0, sleep=slept.append, random=lambda: 1.0)
    answers = iter([Failure(503, "answered 503"), Failure(429, "answered 429", retry_after=7.0),
                    Failure(None, "no answer")])

    def attempt() -> str:
        failed = next(answers, None)
        if failed is None:
            return "ok"
        raise _Answer(failed)

    tally = Tally()
    assert policy.call("GET thing", attempt, failure=_read, tally=tally) == "ok"
    assert slept == [1.0, 7.0, 4.0]  # backoff 1; Retry-After 7 over the backoff 2; backoff 4
    assert (tally.retries, tally.rate_limited, tally.waited_seconds) == (3, 1, 12.0)


@pytest.mark.parametrize(("failed", "words", "tries"), [
    (Failure(404, "answered 404"), "GET thing: answered 404 (not retried", 1),
    (Failure(429, "answered 429", retry_after=11.0), "asked to wait 11 s (longer than the 10 s", 1),
    (Failure(503, "answered 503"), "GET thing: answered 503 after 3 attempts", 3),
])
def test_what_ends_a_call(failed: Failure, words: str, tries: int) -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base=1.0, max_delay=10.0, sleep=slept.append)
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise _Answer(failed)

    with pytest.raises(CallFailed, match=words.replace("(", r"\(")) as caught:
        policy.call("GET thing", attempt, failure=_read)
    assert len(calls) == tries == caught.value.attempts and len(slept) == tries - 1
    assert all(0 <= s <= 10.0 for s in slept)


def test_an_error_that_is_no_answer_is_raised_as_it_is() -> None:
    def attempt() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        RetryPolicy(sleep=lambda _: None).call("GET thing", attempt, failure=_read)


class _Answer(Exception):
    def __init__(self, failed: Failure) -> None:
        super().__init__(failed.reason)
        self.failed = failed


def _read(exc: Exception) -> Failure | None:
    return exc.failed if isinstance(exc, _Answer) else None
