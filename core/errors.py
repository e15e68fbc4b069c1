"""Errors a user can cause. Each carries an HTTP status and is mapped once, in ``api/errors.py``."""

from __future__ import annotations

from typing import Any


class RelaisError(Exception):
    """Base for user-caused errors; ``detail`` is shown to the caller as is."""

    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(RelaisError):
    status_code = 422
    title = "Validation failed"


class NotFound(RelaisError):
    status_code = 404
    title = "Not found"


class Conflict(RelaisError):
    status_code = 409
    title = "Conflict"


class Unauthorized(RelaisError):
    status_code = 401
    title = "Unauthorized"


class Forbidden(RelaisError):
    status_code = 403
    title = "Forbidden"


class PasswordChangeRequired(Forbidden):
    """The user logged in with a temporary password and must choose their own first."""

    title = "Password change required"


class PayloadTooLarge(RelaisError):
    status_code = 413
    title = "Payload too large"


class TooManyRequests(RelaisError):
    """Refused for now (a lockout after repeated failures); ``retry_after`` seconds until it lifts."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ProgressKept(RelaisError):
    """Work stopped part-way (an outage, a rate limit that did not lift) after steps that stand on their own.

    What it did is consistent, and a cursor stored with it says where to go on, so the commit point
    (``core.db.session_scope``, and with it the request's session) commits before raising the error on: the next
    run resumes instead of doing the same work again. Subclasses say what stopped.
    """

    status_code = 502
    title = "Interrupted"
