"""Database work on conversations and messages: look-ups, listing, threads. Services only flush."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from channels.base import DeliveryReport
from conversations.models import Conversation, Message, MessageProviderId
from core.errors import NotFound
from core.sql import among

#: ``client_ref`` sent with every outbound message; providers echo it in delivery reports.
CLIENT_REF_PREFIX = "relais-"

#: ``session.info`` key: the threads :func:`open_conversations` created, with the transaction they were created in.
_CREATED = "relais.threads_created"


def client_ref(message_id: int) -> str:
    """The stable reference of a message at the provider (the same on every attempt)."""
    return f"{CLIENT_REF_PREFIX}{message_id}"


def message_id_from_ref(ref: str | None) -> int | None:
    """Inverse of :func:`client_ref`; ``None`` for references that are not ours."""
    if not ref or not ref.startswith(CLIENT_REF_PREFIX):
        return None
    tail = ref[len(CLIENT_REF_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def get_message(session: Session, message_id: int, *, scope: ColumnElement[bool] | None = None) -> Message:
    """The message, if it exists within ``scope`` (``conversations.visibility.visible_to``).

    Raises:
        NotFound: no such message, or one outside ``scope``.
    """
    if scope is None:
        message = session.get(Message, message_id)
    else:
        message = session.scalar(select(Message).where(Message.id == message_id, scope))
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return message


def customer_has_written(session: Session, contact_id: int) -> bool:
    """Whether the contact ever texted us (a conversation they started, for the conversational lane)."""
    return session.scalar(
        select(Message.id).where(Message.contact_id == contact_id, Message.direction == "in").limit(1)
    ) is not None


def find_by_idempotency_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.idempotency_key == key))


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    direction: str | None = None,
    lane: str | None = None,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    campaign_id: int | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
    scope: ColumnElement[bool] | None = None,
) -> list[Message]:
    """Newest first; page with ``before_id`` (the last id of the previous page).

    ``scope`` limits the rows to those a caller may read (``conversations.visibility.visible_to``).
    """
    stmt = select(Message).order_by(Message.id.desc()).limit(max(1, min(limit, 500)))
    if scope is not None:
        stmt = stmt.where(scope)
    filters = {
        Message.status: status,
        Message.direction: direction,
        Message.lane: lane,
        Message.contact_id: contact_id,
        Message.conversation_id: conversation_id,
        Message.campaign_id: campaign_id,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(Message.created_at >= since)
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    return list(session.scalars(stmt))


def open_conversation(session: Session, *, contact_id: int, sender: str, channel: str,
                      message_at: datetime) -> Conversation:
    """The contact's open thread with ``sender``, created when there is none (a closed one stays closed).

    ``message_at``: when the message that opens or continues it arrived, kept as its
    ``last_message_at`` (written with the new thread's insert rather than by an update after it).
    """
    found = session.scalar(
        select(Conversation)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.sender == sender,
            Conversation.state != "closed",
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if found is not None:
        found.last_message_at = message_at
        return found
    conversation = Conversation(contact_id=contact_id, sender=sender, channel=channel, state="bot",
                                last_message_at=message_at)
    session.add(conversation)
    session.flush()
    return conversation


def open_conversations(session: Session, threads: Iterable[tuple[int, str]], *, channel: str,
                       message_at: datetime) -> dict[tuple[int, str], Conversation]:
    """:func:`open_conversation` for many ``(contact_id, sender)`` pairs: the open threads read in one
    statement, the missing ones inserted in one; returns the thread per pair."""
    wanted = set(threads)
    if not wanted:
        return {}
    found: dict[tuple[int, str], Conversation] = {}
    rows = session.scalars(
        select(Conversation)
        .where(
            Conversation.contact_id.in_(sorted({contact_id for contact_id, _ in wanted})),
            Conversation.sender.in_(sorted({sender for _, sender in wanted})),
            Conversation.state != "closed",
        )
        .order_by(Conversation.id.desc())
    )
    for conversation in rows:
        key = (conversation.contact_id, conversation.sender)
        if key in wanted and key not in found:  # the newest open one, as open_conversation takes
            found[key] = conversation
            conversation.last_message_at = message_at
    created = {
        key: Conversation(contact_id=key[0], sender=key[1], channel=channel, state="bot", last_message_at=message_at)
        for key in sorted(wanted - found.keys())
    }
    if created:
        session.add_all(created.values())
        session.flush()
        transaction, ids = session.info.get(_CREATED, (None, set()))
        if transaction is not session.get_transaction():
            ids = set()
        session.info[_CREATED] = (session.get_transaction(), ids | {c.id for c in created.values()})
    return {**found, **created}


def threads_created(session: Session) -> set[int]:
    """The ids of the threads :func:`open_conversations` created in ``session``'s current transaction:
    they hold only this transaction's messages, no escalation and no earlier turn, so the inbound
    batch need not read them for those (two statements per batch of first texts)."""
    transaction, ids = session.info.get(_CREATED, (None, set()))
    return set(ids) if transaction is not None and transaction is session.get_transaction() else set()


def sticky_senders(session: Session, contact_ids: Iterable[int]) -> dict[int, str]:
    """The sender each contact last exchanged a message with, for sticky routing (the ids as one
    array on PostgreSQL: a send batch asks for 500 contacts)."""
    ids = list(set(contact_ids))
    if not ids:
        return {}
    latest = (
        select(func.max(Message.id).label("mid"))
        .where(among(Message.contact_id, ids, session.get_bind().dialect.name), Message.sender != "")
        .group_by(Message.contact_id)
        .subquery()
    )
    rows = session.execute(select(Message.contact_id, Message.sender).join(latest, Message.id == latest.c.mid))
    return {contact_id: sender for contact_id, sender in rows}


def find_for_report(session: Session, report: DeliveryReport) -> Message | None:
    """The outbound message a delivery report is about: by provider id, by part id, else by client_ref."""
    found = session.scalar(
        select(Message).where(
            Message.provider == report.provider,
            Message.provider_message_id == report.provider_message_id,
            Message.direction == "out",
        )
    )
    if found is not None:
        return found
    part = session.scalar(
        select(MessageProviderId.message_id).where(
            MessageProviderId.provider == report.provider,
            MessageProviderId.provider_message_id == report.provider_message_id,
        )
    )
    if part is not None:
        return session.get(Message, part)
    message_id = message_id_from_ref(report.client_ref)
    if message_id is not None:
        message = session.get(Message, message_id)
        if message is not None and message.direction == "out":
            return message
    return None
