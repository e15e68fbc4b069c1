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
    else one saying "nested too deeply" or "a number has more than 4,300 digits" (words a person can act on)."""
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError:  # int(): "Exceeds the limit (4300 digits) for integer string conversion… sys.set_int_max…"
        raise ValueError("a number has more than 4,300 digits") from None
