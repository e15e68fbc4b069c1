"""The base of every API request body: a field the server does not know is refused, not ignored.

A misspelt or misplaced field (``idempotency_key`` in the JSON instead of the ``Idempotency-Key``
header, ``schedule_at`` for ``send_at``) used to vanish silently and the caller got something other
than what was asked (duplicates, an immediate send). ``extra="forbid"`` makes FastAPI answer 422,
and ``api.errors`` names each unknown field. Response models stay plain ``BaseModel``: a client
must tolerate new fields in answers, the server must not guess at new fields in requests.

Every string is bounded (``MAX_FIELD_CHARS`` unless the field says less) and free-form objects
are ``JsonObject``: a 5 MB contact name used to be stored and then served on every contacts page.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

#: The longest string any request field may hold, unless its own ``max_length`` is tighter (docs/security.md).
MAX_FIELD_CHARS = 10_000
#: The largest free-form JSON object (attributes, segment rules, event data), serialised.
MAX_JSON_CHARS = 16_384


class RequestBody(BaseModel):
    """Subclass for every model read from a request body (nested ones included)."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_FIELD_CHARS)


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, default=str))
    if size > MAX_JSON_CHARS:
        raise ValueError(f"is {size} characters as JSON; at most {MAX_JSON_CHARS}")
    return value


#: A free-form JSON object, bounded as a whole (keys, values and nesting together).
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
