"""The base of every API request body: a field the server does not know is refused, not ignored.

A misspelt or misplaced field (``idempotency_key`` in the JSON instead of the ``Idempotency-Key``
header, ``schedule_at`` for ``send_at``) used to vanish silently and the caller got something other
than what was asked (duplicates, an immediate send). ``extra="forbid"`` makes FastAPI answer 422,
and ``api.errors`` names each unknown field. Response models stay plain ``BaseModel``: a client
must tolerate new fields in answers, the server must not guess at new fields in requests.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """Subclass for every model read from a request body (nested ones included)."""

    model_config = ConfigDict(extra="forbid")
