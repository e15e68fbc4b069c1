"""Cancelling an outbound text before it goes: the API's ``POST /messages/{id}/cancel`` (a scheduled reminder no
longer needed, a text sent by mistake that still waits for its window).

The text is closed ``rejected`` with the code ``cancelled`` by an UPDATE conditional on its still being
``queued``: the claim that would send it is conditional the same way, so exactly one of the two wins, and a text a
worker already holds is reported as such rather than cancelled after the fact. The ``message.status`` webhook
says so, as for every final status (``store.close``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from conversations import service
from conversations.models import Message
from core.errors import Conflict
from delivery import store

CANCELLED = "cancelled"


def cancel(session: Session, message_id: int, *, scope: ColumnElement[bool] | None = None) -> Message:
    """Cancel the outbound text ``message_id`` if no worker has claimed it; returns it, ``rejected``.

    Raises:
        NotFound: no such message the caller may see (``scope``: ``conversations.visibility``).
        Conflict: an inbound text, or one no longer waiting to go (sending, sent, delivered, failed, cancelled).
    """
    message = service.get_message(session, message_id, scope=scope)
    if message.direction != "out":
        raise Conflict("only a text sent by us can be cancelled")
    taken = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == "queued")
        .values(status="rejected", wait_reason="", wait_detail="")
        .execution_options(synchronize_session=False)
    )
    session.refresh(message)
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"this text is {message.status}: only a text waiting to go can be cancelled")
    store.close(session, message, status="rejected", code=CANCELLED, reason="cancelled before it was sent")
    return message
