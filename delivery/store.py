"""Database side of the delivery engine: claiming messages and recording what happened to them.

Claiming is one conditional UPDATE (due ``queued → sending`` with a fresh token), so two workers
handed the same ids never both send a message, and a row planned for later is never taken early.
Outcomes are written with conditional UPDATEs too, never read-modify-write, so a delivery report
applied meanwhile is never overwritten.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from channels.base import MediaItem, SendResult
from channels.senders import SenderChoice, SenderPicker, account_rates, ensure_default_sender
from contacts.consent import REFUSAL_TEXT
from contacts.models import Contact
from conversations import service
from conversations.models import Message, MessageProviderId
from core import live, revocations, webhooks
from core.db import utcnow
from core.sql import among, array_literal
from delivery.limiter import Holds
from delivery.states import conversation_rows, has_status_subscribers, status_event

_messages: Table = Message.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, detached from the session so sending threads can use it."""

    id: int
    to: str
    text: str
    media: tuple[MediaItem, ...]
    lane: str
    attempts: int
    sender: SenderChoice
    account_rate: float
    #: the revocation markers that hold it in the lanes (its campaign's, its contact's; :mod:`core.revocations`)
    holds: Holds = ()
    #: the lanes send it only before this instant (the authority's deadline, the claim's lease), else hand it back
    deadline: datetime | None = None


def claim(
    session: Session, message_ids: Sequence[int], *, now: datetime, owner: str = ""
) -> tuple[str, list[Message]]:
    """Move the due (``not_before <= now``) ``queued`` outbound messages among ``message_ids`` to
    ``sending``; returns (token, rows). The authority decides next whether each may really go.

    ``owner`` (at most 12 characters) names the worker whose registration vouches for the claim:
    recovery releases the claims of a worker that is gone before the full lease (:func:`owner_of`).
    """
    token = f"{uuid.uuid4().hex[: 31 - len(owner)]}@{owner}" if owner else uuid.uuid4().hex
    ids = sorted(set(message_ids))
    dialect = session.get_bind().dialect.name
    session.execute(
        update(Message)
        .where(
            among(_messages.c.id, ids, dialect),
            Message.status == "queued",
            Message.direction == "out",
            or_(Message.not_before.is_(None), Message.not_before <= now),
        )
        .values(status="sending", claim_token=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    # read back by id (the primary key) as well as token: claim_token has no index, and a lookup by
    # token alone scanned the whole table once per batch
    claimed = select(Message).where(among(_messages.c.id, ids, dialect), Message.claim_token == token)
    return token, list(session.scalars(claimed.order_by(Message.id)))


# What the authority, :func:`prepare` and :func:`close` (its status event included) read of a claimed row. The
# rest (the analysis JSON, the provider's fields, five timestamps) is left unloaded: converting whole rows was
# most of the claim's processor time in a send worker. Read anyway, an unloaded column is loaded then.
_TAKEN = ("id", "contact_id", "campaign_id", "lane", "override_opt_out", "expires_at", "not_before", "body", "media",
          "sender", "attempts", "provider_message_id", "error_code", "error_reason", "wait_reason", "wait_detail")
# the due queued rows among the ids, locked in id order, read with the claim as their values; the ids are an
# untyped array literal (see array_literal), so the planner probes the primary key with them
_TAKE = text(f"""
SELECT {", ".join(_TAKEN)}, 'sending' AS status, :token AS claim_token, :now AS claimed_at FROM messages
WHERE id = ANY(CAST(:ids AS BIGINT[])) AND status = 'queued' AND direction = 'out'
    AND (not_before IS NULL OR not_before <= :now)
ORDER BY id FOR UPDATE
""").bindparams(bindparam("token", type_=_messages.c.claim_token.type),
                bindparam("now", type_=_messages.c.claimed_at.type)).columns(
    *(_messages.c[name] for name in (*_TAKEN, "status", "claim_token", "claimed_at")))  # fmt: skip


def take(session: Session, message_ids: Sequence[int], *, now: datetime, owner: str = "") -> tuple[str, list[Message]]:
    """:func:`claim` for the delivery engine's batch transaction, which stores the claim with each
    row's sender (:func:`prepare` with ``claim=``) or with the authority's verdict.

    On PostgreSQL the due ``queued`` rows are locked (``SELECT … FOR UPDATE``, in id order, the order
    the sends' recording and the report job lock in) instead of being updated to ``sending`` first:
    a worker handed the same ids waits for the lock and then finds them claimed, as it would behind
    the UPDATE, and each claimed row gets one new version in the transaction instead of two (every
    version writes an entry into each of the table's indexes). The session's copies hold the claim
    (``sending``, the token, ``claimed_at``) as committed values, so the authority and
    :func:`prepare` see them as claimed; nothing is written until one of them writes the row, in the
    same transaction. Only the columns they read are loaded (any other is loaded when read). Elsewhere
    (SQLite: one writer, no row locks) this is :func:`claim`.
    """
    dialect = session.get_bind().dialect.name
    if dialect != "postgresql":
        return claim(session, message_ids, now=now, owner=owner)
    token = f"{uuid.uuid4().hex[: 31 - len(owner)]}@{owner}" if owner else uuid.uuid4().hex
    parameters = {"ids": array_literal(sorted(set(message_ids))), "token": token, "now": now}
    return token, list(session.scalars(select(Message).from_statement(_TAKE), parameters))


def prepare(session: Session, rows: list[Message], *, channel: str, default_account_rate: float,
            claim: tuple[str, datetime] | None = None, deadlines: Mapping[int, datetime] | None = None,
            latest: datetime | None = None) -> list[Outgoing]:
    """Choose senders for claimed rows the authority let through (:mod:`delivery.authority`, consent
    included), counting the attempt; rows with no usable number or sender are closed here.

    The sender and the attempt are stored before any provider call, with one UPDATE (on PostgreSQL,
    from arrays; elsewhere one per sender chosen: never one per message, whose parameters cost a send
    worker more than the rest of the batch's database work), and set on the session's copies as
    their committed values. ``claim`` (token,
    claimed at) of rows :func:`take` only locked is written by the same UPDATE. Each message's ``deadline``
    is the earlier of its own in ``deadlines`` (the authority's) and ``latest`` (the claim's).
    """
    if not rows:
        return []
    ensure_default_sender(session, channel=channel)
    dialect = session.get_bind().dialect.name
    contacts = {cid: (phone, country) for cid, phone, country in session.execute(
        select(Contact.id, Contact.phone, Contact.country).where(among(Contact.id, {r.contact_id for r in rows},
                                                                       dialect)))}
    picker = SenderPicker(session)
    sticky = service.sticky_senders(session, [r.contact_id for r in rows if not r.sender])
    rates = account_rates(session)
    ready: list[Outgoing] = []
    for row in rows:
        phone, country = contacts.get(row.contact_id, (None, ""))
        if not phone:  # the authority's consent check rejects these first
            close(session, row, status="rejected", code="erased", reason=REFUSAL_TEXT["erased"])
            continue
        media = tuple(MediaItem(**m) for m in row.media)
        choice = picker.by_address(row.sender) if row.sender else None
        if choice is None:
            choice = picker.pick(country=country, contact_id=row.contact_id, mms=bool(media),
                                 sticky=sticky.get(row.contact_id))
        if choice is None:
            need = "MMS" if media else "SMS"
            close(session, row, status="dead", code="no_sender",
                  reason=f"no active {need} sender for {country or 'this country'}")
            continue
        ready.append(
            Outgoing(
                id=row.id,
                to=phone,
                text=row.body,
                media=media,
                lane=row.lane,
                attempts=row.attempts + 1,
                sender=choice,
                account_rate=rates.get(choice.provider_account, default_account_rate),
                holds=revocations.holds(campaign_id=row.campaign_id, contact_id=row.contact_id, lane=row.lane,
                                        override_opt_out=bool(row.override_opt_out)),
                deadline=min((d for d in ((deadlines or {}).get(row.id), latest) if d is not None), default=None),
            )
        )
    if ready:
        _store_senders(session, ready, claim, dialect)
        by_id = {row.id: row for row in rows}
        for outgoing in ready:
            row = by_id[outgoing.id]
            set_committed_value(row, "attempts", outgoing.attempts)
            # only what changed: a campaign row is usually due with no wait reason, its sender chosen now
            for name, value in (("sender", outgoing.sender.address), ("wait_reason", ""), ("wait_detail", "")):
                if getattr(row, name) != value:
                    set_committed_value(row, name, value)
    return ready


# PostgreSQL: every chosen sender in one UPDATE joined to (id, sender) arrays, claim included when given.
# The ids are also matched as an array (here and in the sends' UPDATE): the planner does not see how many
# rows the unnest holds, and joined it by hash to a scan of the whole table; matched, it probes the index.
_STORE_SENDERS = text("""
UPDATE messages SET sender = v.sender, attempts = messages.attempts + 1, wait_reason = '', wait_detail = '',
    status = COALESCE(:status, messages.status), claim_token = COALESCE(:token, messages.claim_token),
    claimed_at = COALESCE(:claimed_at, messages.claimed_at)
FROM unnest(CAST(:ids AS BIGINT[]), CAST(:senders AS TEXT[])) AS v(id, sender)
WHERE messages.id = v.id AND messages.id = ANY(CAST(:ids AS BIGINT[]))
""").bindparams(bindparam("status", type_=_messages.c.status.type),
                bindparam("token", type_=_messages.c.claim_token.type),
                bindparam("claimed_at", type_=_messages.c.claimed_at.type))


def _store_senders(session: Session, ready: list[Outgoing], claim: tuple[str, datetime] | None, dialect: str) -> None:
    """Write each ready row's sender and attempt (and the claim, when given) before any provider call.

    On PostgreSQL one UPDATE from arrays whatever the batch's senders (a campaign batch of 500 spread
    over 12 short codes ran 12 UPDATEs, each with its ids as an array); elsewhere one UPDATE per sender.
    """
    connection = session.connection()
    if dialect == "postgresql":
        connection.execute(_STORE_SENDERS, {
            "ids": array_literal([o.id for o in ready]), "senders": array_literal([o.sender.address for o in ready]),
            "status": "sending" if claim else None, "token": claim[0] if claim else None,
            "claimed_at": claim[1] if claim else None,
        })  # fmt: skip
        return
    by_sender: dict[str, list[int]] = defaultdict(list)
    for outgoing in ready:
        by_sender[outgoing.sender.address].append(outgoing.id)
    claimed = {} if claim is None else {"status": "sending", "claim_token": claim[0], "claimed_at": claim[1]}
    for address, ids in by_sender.items():
        connection.execute(update(_messages).where(among(_messages.c.id, ids, dialect)).values(
            sender=address, attempts=_messages.c.attempts + 1, wait_reason="", wait_detail="", **claimed))


def close(session: Session, row: Message, *, status: str, code: str, reason: str) -> None:
    """Give a message a final status without a send (consent, no sender, permanent error, dead letter); it no longer
    waits, so the reason it waited last (``wait_reason``, ``wait_detail``) goes."""
    row.status = status
    row.error_code = code[:40]
    row.error_reason = reason[:500]
    row.claim_token = ""
    row.wait_reason, row.wait_detail = "", ""
    session.flush()
    webhooks.emit(session, "message.status", status_event(row))
    # a campaign's row is told apart by columns the claim read, before its conversation is looked at (not
    # loaded by take(): reading it costs a query, which only a conversation's reply may spend)
    if row.campaign_id is None and row.lane != "marketing" and row.conversation_id is not None:
        live.statuses_after_commit(session, [(row.id, row.conversation_id, status)])


_RECORD_SENT = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"), _messages.c.claim_token == bindparam("b_token"))
    .values(
        status=case((_messages.c.status == "sending", "sent"), else_=_messages.c.status),
        provider=bindparam("b_provider"),
        provider_message_id=func.coalesce(_messages.c.provider_message_id, bindparam("b_pid")),
        segments=bindparam("b_segments"),
        price_micros=func.coalesce(bindparam("b_price"), _messages.c.price_micros),
        sent_at=func.coalesce(_messages.c.sent_at, bindparam("b_now")),
        claim_token="",
        error_code="",
        error_reason="",
    )
)


# PostgreSQL: the whole batch in one UPDATE joined to its values as arrays (one parameter per
# column), after one SELECT ... FOR UPDATE that locks the rows in id order
# (it also answers which of them are a conversation's, with their status then, for the live console: a
# campaign's batch gets no row back, no statement and no Redis command more)
_LOCK_IN_ID_ORDER = text("""
WITH locked AS MATERIALIZED (
    SELECT id, conversation_id, status FROM messages WHERE id = ANY(CAST(:ids AS BIGINT[])) ORDER BY id FOR UPDATE
)
SELECT id, conversation_id, status FROM locked WHERE conversation_id IS NOT NULL
""")
_RECORD_SENT_ARRAYS = text("""
UPDATE messages SET
    status = CASE WHEN messages.status = 'sending' THEN 'sent' ELSE messages.status END,
    provider = v.provider,
    provider_message_id = COALESCE(messages.provider_message_id, v.pid),
    segments = v.segments,
    price_micros = COALESCE(v.price, messages.price_micros),
    sent_at = COALESCE(messages.sent_at, :now),
    claim_token = '', error_code = '', error_reason = ''
FROM unnest(CAST(:ids AS BIGINT[]), CAST(:tokens AS TEXT[]), CAST(:providers AS TEXT[]), CAST(:pids AS TEXT[]),
            CAST(:segments AS INTEGER[]), CAST(:prices AS BIGINT[])) AS v(id, token, provider, pid, segments, price)
WHERE messages.id = v.id AND messages.claim_token = v.token AND messages.id = ANY(CAST(:ids AS BIGINT[]))
""").bindparams(bindparam("now", type_=_messages.c.sent_at.type))


def record_sent(session: Session, sent: dict[int, SendResult], *, token_of: dict[int, str]) -> None:
    """Store provider acceptances (status ``sent`` unless a report already moved it further), only
    where the claim is still ``token_of``'s.

    Rows are locked in id order, the order the report job locks them in: the provider's reports
    for a batch arrive while its sends are being recorded, and two orders would deadlock. On
    PostgreSQL a batch is two statements (the locking read, one UPDATE of every row from arrays),
    not one UPDATE per message; SQLite (one writer at a time) runs the per-row UPDATE many times.
    """
    if not sent:
        return
    now = utcnow()
    sent = dict(sorted(sent.items()))
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = list(sent)
        # arrays as text: see array_literal
        talks = [(i, c, status) for i, c, status in connection.execute(_LOCK_IN_ID_ORDER, {"ids": array_literal(ids)})]
        connection.execute(_RECORD_SENT_ARRAYS, {
            "ids": array_literal(ids), "tokens": array_literal([token_of[i] for i in ids]),
            "providers": array_literal([r.provider for r in sent.values()]),
            "pids": array_literal([r.provider_message_id for r in sent.values()]),
            "segments": array_literal([r.segments for r in sent.values()]),
            "prices": array_literal([r.price_micros for r in sent.values()]), "now": now,
        })  # fmt: skip
    else:
        connection.execute(_RECORD_SENT, [
            {"b_id": message_id, "b_token": token_of[message_id], "b_provider": result.provider,
             "b_pid": result.provider_message_id, "b_segments": result.segments, "b_price": result.price_micros,
             "b_now": now}
            for message_id, result in sent.items()
        ])  # fmt: skip
        talks = conversation_rows(session, list(sent))  # SQLite: no lock read to ask (one statement a batch)
    parts = [
        MessageProviderId(message_id=message_id, provider=result.provider, provider_message_id=part)
        for message_id, result in sent.items()
        if len(result.part_ids) > 1
        for part in result.part_ids
    ]
    session.add_all(parts)
    session.flush()
    if has_status_subscribers(session):
        for row in session.scalars(select(Message).where(Message.id.in_(list(sent)))):
            session.refresh(row)
            webhooks.emit(session, "message.status", status_event(row))
    # a reply now sent (or further, when its report came first) shows at once on an open thread; the status
    # was read before the UPDATE, which moves only 'sending' on
    live.statuses_after_commit(session, [(i, c, "sent" if status == "sending" else status) for i, c, status in talks])


def requeue(
    session: Session,
    message_ids: Sequence[int],
    *,
    at: datetime | None,
    reason: str = "",
    detail: str = "",
    undo_attempt: bool = False,
    token: str | None = None,
) -> None:
    """Put claimed messages back to ``queued``, due at ``at`` (``None``: now) and saying why
    (``retry``, ``rate_limited``): a retry later, a limiter deferral, a send lost by a crash.

    ``token``: only rows still held by that claim (a batch's outcomes); a row recovery gave to another
    claim meanwhile is that claim's, not put back under it."""
    if not message_ids:
        return
    values: dict[str, object] = {"status": "queued", "claim_token": "", "not_before": at,
                                 "wait_reason": reason[:20], "wait_detail": detail[:200]}
    if undo_attempt:
        values["attempts"] = Message.attempts - 1
    held = [Message.claim_token == token] if token is not None else []
    session.execute(
        update(Message)
        .where(Message.id.in_(list(message_ids)), Message.status == "sending", *held)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def stuck(session: Session, *, now: datetime, older_than: timedelta, limit: int = 1000) -> list[Message]:
    """Rows in ``sending`` whose claim is older than the lease (their worker died or timed out)."""
    cutoff = now - older_than
    return list(
        session.scalars(
            select(Message)
            .where(Message.status == "sending", Message.claimed_at <= cutoff)
            .order_by(Message.id)
            .limit(limit)
        )
    )


def owner_of(token: str) -> str:
    """The worker named in a claim token ("" when the claimer named none)."""
    return token.partition("@")[2]


def owned_claims(session: Session, *, now: datetime, older_than: timedelta, limit: int = 1000) -> list[Message]:
    """Rows in ``sending`` claimed more than ``older_than`` ago by a named worker (see :func:`claim`)."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.status == "sending", Message.claimed_at <= now - older_than)
            .where(Message.claim_token.contains("@"))
            .order_by(Message.id)
            .limit(limit)
        )
    )


def orphaned(session: Session, *, now: datetime, older_than: timedelta, limit: int = 10000) -> list[Message]:
    """``queued`` rows overdue by more than ``older_than``: their wake-up job never ran (or was lost).

    Overdue counts from ``not_before`` (else ``created_at``), so a row planned for later is never an
    orphan; rows of a paused campaign wait for resume, not for recovery.
    """
    cutoff = now - older_than
    due = or_(
        and_(Message.not_before.is_(None), Message.created_at <= cutoff),
        Message.not_before <= cutoff,
    )
    stmt = (
        select(Message)
        .where(Message.status == "queued", Message.direction == "out", due, Message.wait_reason != "paused")
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
