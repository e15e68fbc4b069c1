"""structlog set-up: JSON lines in production, readable lines on a terminal; request ids bound.

Log lines must not become a copy of personal data: every string in an event (the message, its
fields, a formatted traceback) has phone numbers masked and the values PostgreSQL quotes in a
constraint error removed (:func:`scrub`), and the database engine never prints SQL parameters
(``core.db.make_engine``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# E.164 (+ or its URL encoding %2B, then 8-15 digits) or a bare run of 9-15 digits, standing alone
_PHONE = re.compile(r"(?<![\w%])(?:\+|%2[bB])?\d{9,15}(?!\w)|(?<![\w%])(?:\+|%2[bB])\d{8}(?!\w)")


# a number as people type it, in groups: "06 12 34 56 78", "+33 6 12 34 56 78", "06.12.34.56.78" (a space may come
# URL-encoded). It must open with + or 0, which no IP address, date or amount in a log line does.
_GROUPED_PHONE = re.compile(r"(?<![\w%.+])(?:\+|%2[bB]|0)\d{0,4}(?:(?: |%20|\.)\d{1,4}){2,7}(?![\w.])")


def mask_phones(text: str) -> str:
    """``/suppressions/+33612345678`` → ``/suppressions/+33*******78``: enough to tell lines apart. A number typed
    in groups keeps its separators: ``06 12 34 56 78`` → ``06 1* ** ** 78``."""
    masked = _PHONE.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 5) + m.group(0)[-2:], text)
    return _GROUPED_PHONE.sub(_mask_grouped, masked)


def _mask_grouped(match: re.Match[str]) -> str:
    """Every digit but the first two and the last two as ``*``; separators (and a URL-encoded %20 or %2B) kept."""
    found = match.group(0)
    digits = sum(1 for token in _DIGIT.findall(found) if not token.startswith("%"))
    if not 9 <= digits <= 15:
        return found
    seen = 0

    def mask(token: re.Match[str]) -> str:
        nonlocal seen
        if token.group(0).startswith("%"):
            return token.group(0)
        seen += 1
        return token.group(0) if seen <= 2 or seen > digits - 2 else "*"

    return _DIGIT.sub(mask, found)


_DIGIT = re.compile(r"%2[0bB]|\d")


# PostgreSQL quotes the offending values of a constraint violation: "Key (token)=(abc) already exists"
_DB_DETAIL = re.compile(r"(Key \([^)]*\)=\().*?(\) (?:already exists|is not present))")


def scrub(text: str) -> str:
    """A log string without phone numbers nor the values a database error quotes."""
    return mask_phones(_DB_DETAIL.sub(r"\1…\2", text))


def _scrub_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub(value)
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write: a runner that swaps it for a
    while (click's CliRunner, pytest's capture) must not leave cached loggers on a closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, json: bool = True, level: str = "INFO") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
