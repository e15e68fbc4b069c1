"""JSON that callers send, parsed with every failure a ``ValueError``.

``json.loads`` raises ``RecursionError`` for nesting deeper than the interpreter's stack (about 1,000 levels), which
no caller's ``except ValueError`` caught: ``[[[[…`` 30,000 deep, posted anonymously to ``/webhooks/vonage/inbound``,
answered 500 (docs/security.md, "Files the server parses"). Numbers of more than 4,300 digits fail with a
``ValueError`` (Python's guard against quadratic conversions) whose words name a Python setting; they are reworded.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``; raises ``ValueError`` on any bad input: ``json.JSONDecodeError`` for a syntax error,
    else one saying why in words a person can act on (:func:`why`)."""
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise ValueError(why(exc) or str(exc)) from None


def why(exc: BaseException | None) -> str | None:
    """What is wrong with JSON whose parsing raised ``exc``, in words; None for a syntax error or another failure."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) and "digits" in str(exc):
        return "a number has more than 4,300 digits"  # int(): "Exceeds the limit (4300 digits)… sys.set_int_max…"
    return None
