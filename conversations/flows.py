"""Multi-step message work: queue an outbound text, take in an inbound one.

Nothing here calls a provider: sends happen in ``workers.jobs.send.send_messages`` (the engine
and the delivery state machine live in :mod:`delivery`) once the transaction that queued them
commits. Inbound texts are stored first (:func:`stage_inbound`, one
insert, deduplicated by the provider's id) and turned into contacts, threads and messages by a
worker (:func:`ingest_event` → :func:`persist_inbound`), which answers them in the same
transaction (``agent.intake``) or queues the agent's job per message (:func:`queue_analysis`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.base import ConcatInfo, InboundMessage, MediaItem
from channels.encoding import analyze, smart_encode
from channels.media import media_kind, size_limit
from channels.phone import InvalidPhoneNumber, phone_info
from channels.senders import SenderPicker
from contacts.consent import REFUSAL_TEXT, consent_verdicts
from contacts.models import Contact
from contacts.service import get_or_create_by_phone, get_or_create_many_by_phone
from conversations import service
from conversations.models import LANES, Conversation, InboundEvent, Message
from conversations.scheduled import planned_detail, planned_time
from core import db, webhooks
from core.crypto import blind_index
from core.db import after_commit, utcnow
from core.errors import Conflict, ValidationFailed
from core.queue import NO_RETRY, JobSpec, enqueue, enqueue_after_commit
from core.redis import get_redis
from core.settings import get_settings

log = structlog.get_logger("relais.delivery")

SEND_JOB = "workers.jobs.send.send_messages"
INGEST_JOB = "workers.delivery.ingest.drain_inbound"
#: Stored inbound event ids waiting for the ingest worker, the flag "a drain job is scheduled" (cleared by a
#: running drain before each pop) and the flag "a drain job waits in the queue, not started yet".
PENDING_INBOUND_KEY = "relais:inbound:pending"
DRAIN_SCHEDULED_KEY = "relais:inbound:drain-scheduled"
DRAIN_QUEUED_KEY = "relais:inbound:drain-queued"
_SCHEDULED_SECONDS = 300
#: A job still waiting after this long may be joined by another (harmless); a flag left by a lost job unblocks.
_QUEUED_SECONDS = 60
#: Whether to schedule a drain job: only when no drain is scheduled, and none waits in the queue (a
#: waiting drain pops everything pushed before it starts; a running one clears the first flag before each
#: pop, so without the second, every batch of a busy worker queued one more job, to find the list empty).
_SCHEDULE_DRAIN = """
if not redis.call('set', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if redis.call('get', KEYS[2]) then return 0 end
redis.call('set', KEYS[2], '1', 'EX', ARGV[2])
return 1
"""
PROCESS_INBOUND_JOB = "workers.jobs.inbound.process_inbound"
#: ``session.info`` key of the sends a caller holds back to send itself (:func:`hold_sends`).
HELD_SENDS = "relais.held_sends"
#: ``session.info`` key of the contacts and threads an inbound batch loaded, kept for its analysis.
LOADED = "relais.inbound_loaded"


def send_job(message_ids: Sequence[int], *, lane: str, at: datetime | None = None, attempt: int = 0) -> JobSpec:
    """The job sending ``message_ids`` (a batch) on ``lane``'s queue; its id makes a repeat a no-op.

    The job only wakes the engine up at ``at``: each row's ``not_before`` decides whether it is due.
    ``attempt`` tells apart later wake-ups of the same ids (a retry, a new planned time).
    """
    ids = [int(i) for i in message_ids]
    job_id = f"send:{ids[0]}" if len(ids) == 1 else f"send:{ids[0]}:{ids[-1]}:{len(ids)}"
    return JobSpec(
        func=SEND_JOB,
        args=(ids,),
        job_id=f"{job_id}:a{attempt}" if attempt else job_id,
        queue=lane,
        retry=NO_RETRY,  # the delivery engine schedules its own retries per message
        at=at,
        timeout=900,
    )


def media_dicts(media: Iterable[MediaItem | Mapping[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for item in media:
        data = asdict(item) if isinstance(item, MediaItem) else dict(item)
        items.append({k: v for k, v in data.items() if v is not None})
    return items


def queue_outbound(
    session: Session,
    *,
    contact: Contact,
    body: str,
    lane: str,
    author_type: str,
    author_id: str = "",
    conversation: Conversation | None = None,
    media: Iterable[MediaItem | Mapping[str, Any]] = (),
    campaign_id: int | None = None,
    idempotency_key: str | None = None,
    analysis: dict[str, Any] | None = None,
    sender: str | None = None,
    override_opt_out: bool = False,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> Message:
    """Store an outbound message as ``queued``; it is sent by a worker after the commit.

    ``sender`` pins the sending number; else the conversation's, else one chosen at send time
    (sticky per contact, per destination country). Consent is checked at send time;
    ``override_opt_out`` lets a ``transactional`` text reach an opted-out contact (the STOP and
    HELP replies, an administrator's audited override: ``contacts.consent.consent_verdicts``).
    ``expires_at`` (a one-time code's validity): past it the message is closed ``expired``, never
    sent late (``delivery.authority``). ``not_before`` (a text scheduled through the API,
    ``conversations.scheduled``): its send job wakes then, and it waits as ``scheduled`` meanwhile.

    Raises:
        ValidationFailed: unknown lane, neither text nor media, or ``expires_at`` not in the future.
    """
    if expires_at is not None:
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        if expires_at <= utcnow():
            raise ValidationFailed("expires_at must be in the future", errors=[{"field": "expires_at"}])
    if lane not in LANES:
        raise ValidationFailed(f"lane must be one of {', '.join(LANES)}", errors=[{"field": "lane"}])
    if override_opt_out and lane != "transactional":
        raise ValidationFailed("only a transactional message may override an opt-out",
                               errors=[{"field": "override_opt_out"}])
    items = media_dicts(media)
    if not body and not items:
        raise ValidationFailed("a message needs a body or media", errors=[{"field": "body"}])
    info = analyze(body)
    message = Message(
        direction="out",
        contact_id=contact.id,
        conversation_id=conversation.id if conversation else None,
        body=body,
        media=items,
        sender=sender or (conversation.sender if conversation else ""),
        status="queued",
        lane=lane,
        author_type=author_type,
        author_id=author_id,
        campaign_id=campaign_id,
        idempotency_key=idempotency_key,
        override_opt_out=override_opt_out,
        expires_at=expires_at,
        encoding=info.encoding,
        segments=1 if items else info.segments,
        analysis=analysis or {},
    )
    if not_before is not None:
        message.not_before, message.wait_reason = not_before, "scheduled"
        message.wait_detail = planned_detail(not_before, contact.timezone)
    session.add(message)
    if conversation is not None:
        conversation.last_message_at = utcnow()
    held = session.info.get(HELD_SENDS)
    if held is not None:
        # inserted with the caller's next flush, with the batch's other replies (no id yet)
        held.setdefault(lane, []).append(message)
        return message
    session.flush()
    enqueue_after_commit(session, send_job([message.id], lane=lane, at=not_before))
    return message


def hold_sends(session: Session) -> None:
    """Messages queued in ``session`` from now on get no send job after the commit, and are not
    flushed one by one: :func:`held_sends` hands their ids to the caller, who sends them itself once
    it has committed (the inbound batch sends its replies in the same job). A caller that cannot
    send them must queue :func:`send_job` for them; a process that dies first leaves them
    ``queued``, which the delivery recovery sweep re-enqueues after the lease.
    """
    session.info.setdefault(HELD_SENDS, {})


def held_sends(session: Session) -> dict[str, list[int]]:
    """The ids, per lane, of the messages held since :func:`hold_sends` (flushed first), to send
    after the commit (:func:`send_held`); the session queues send jobs again from now on."""
    session.flush()
    held: dict[str, list[Message]] = session.info.pop(HELD_SENDS, {})
    return {lane: [message.id for message in messages] for lane, messages in held.items()}


def send_held(held: Mapping[str, Sequence[int]], send: Callable[[list[int]], object]) -> None:
    """Send the committed messages a caller held back (:func:`held_sends`) with ``send`` (the
    delivery engine's batch: its claim and authority decide what goes now and queue the rest);
    when ``send`` fails, their send jobs are queued as :func:`queue_outbound` would have."""
    ids = sorted(i for lane_ids in held.values() for i in lane_ids)
    if not ids:
        return
    try:
        send(ids)
    except Exception:
        log.exception("held sends failed; queued as jobs", message_ids=ids)
        for lane, lane_ids in held.items():
            if lane_ids:
                enqueue(send_job(lane_ids, lane=lane))


MAX_BODY_CHARS = 1600  # ten-ish segments: longer texts are split badly by carriers


def send_api_message(
    session: Session,
    *,
    to: str,
    body: str,
    lane: str,
    author_type: str,
    author_id: str,
    region: str,
    media: Sequence[Mapping[str, Any]] = (),
    sender: str | None = None,
    idempotency_key: str | None = None,
    smart_encoding: bool = False,
    override_opt_out: bool = False,
    expires_at: datetime | None = None,
    send_at: datetime | None = None,
) -> tuple[Message, bool]:
    """Validate and queue a message asked for through the API; returns ``(message, created)``.

    With an ``idempotency_key`` already used, the first message is returned (``created`` False)
    and nothing is sent again; a different ``to`` or ``body`` under the same key is a Conflict.
    Two requests racing with one key get the same message: the loser's insert fails on the
    unique key inside a savepoint and it answers with the winner's message.
    A number that may not be texted on ``lane`` (``contacts.consent.consent_verdicts``: opted out,
    suppressed, erased, no marketing consent) is refused here, before anything is queued, and so is a
    ``conversational`` text to a number that never texted us;
    ``override_opt_out`` (transactional only, the caller checks the permission) lifts the opt-out.

    Raises:
        InvalidPhoneNumber: ``to`` is not a valid number (field ``to``).
        ValidationFailed: empty or overlong body, unknown lane, unsupported media, unknown sender,
            a recipient that may not be texted on ``lane`` (field ``to``, ``reason`` the verdict), a ``send_at``
            in the past, too far ahead or not before ``expires_at``.
        Conflict: the key was used for another message.
    """
    e164 = phone_info(to, region=region, field="to")
    text = smart_encode(body) if smart_encoding else body
    not_before = planned_time(send_at, expires_at=expires_at, now=utcnow())
    if idempotency_key:
        existing = service.find_by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return _same_request(session, existing, text=text, e164=e164.e164), False
    if len(text) > MAX_BODY_CHARS:
        raise ValidationFailed(f"body is longer than {MAX_BODY_CHARS} characters", errors=[{"field": "body"}])
    for index, item in enumerate(media):
        media_kind(str(item.get("content_type", "")))
        if item.get("size") and int(item["size"]) > size_limit("default"):
            raise ValidationFailed(
                f"media[{index}] is larger than the {size_limit('default')} bytes carriers accept",
                errors=[{"field": f"media.{index}.size", "reason": "too_large"}],
            )
    if sender and SenderPicker(session).by_address(sender) is None:
        raise ValidationFailed(f"sender {sender} is not an active sender", errors=[{"field": "sender"}])
    contact, _ = get_or_create_by_phone(
        session, phone_e164=e164.e164, country=e164.region or "", timezone=e164.timezone
    )
    refused = consent_verdicts(session, [contact.id], lane, override_opt_out=override_opt_out).get(contact.id)
    if refused:
        raise ValidationFailed(
            f"this number may not be texted on the {lane} lane: {REFUSAL_TEXT[refused]}",
            errors=[{"field": "to", "reason": refused}],
        )
    if lane == "conversational" and not service.customer_has_written(session, contact.id):
        # conversational texts answer a customer; without their message this would be marketing
        raise ValidationFailed(
            "the conversational lane is for replies: this number never texted us",
            errors=[{"field": "lane", "reason": "no_conversation"}],
        )
    try:
        with session.begin_nested():
            message = queue_outbound(
                session,
                contact=contact,
                body=text,
                lane=lane,
                author_type=author_type,
                author_id=author_id,
                media=media,
                idempotency_key=idempotency_key,
                sender=sender,
                override_opt_out=override_opt_out,
                expires_at=expires_at,
                not_before=not_before,
            )
    except IntegrityError:
        # A concurrent request with the same key committed between our look-up and our insert
        # (the database made our insert wait for its commit): it wins, as if we had come second.
        winner = service.find_by_idempotency_key(session, idempotency_key) if idempotency_key else None
        if winner is None:
            raise
        return _same_request(session, winner, text=text, e164=e164.e164), False
    return message, True


def _same_request(session: Session, existing: Message, *, text: str, e164: str) -> Message:
    """``existing`` when it is the message asked for again; a Conflict when the key was reused."""
    contact = session.get(Contact, existing.contact_id)
    if existing.body != text or contact is None or contact.phone != e164:
        raise Conflict("this Idempotency-Key was already used for a different message")
    return existing


# -- inbound -----------------------------------------------------------------------------------


def _inbound_payload(inbound: InboundMessage) -> dict[str, Any]:
    return {
        "provider": inbound.provider,
        "provider_message_id": inbound.provider_message_id,
        "from": inbound.from_,
        "to": inbound.to,
        "text": inbound.text,
        "received_at": inbound.received_at.isoformat(),
        "media": media_dicts(inbound.media),
        "concat": asdict(inbound.concat) if inbound.concat else None,
        "truncated": inbound.truncated,
    }


def _inbound_from_payload(payload: Mapping[str, Any]) -> InboundMessage:
    concat = payload.get("concat")
    return InboundMessage(
        provider=payload["provider"],
        provider_message_id=payload["provider_message_id"],
        from_=payload["from"],
        to=payload["to"],
        text=payload["text"],
        received_at=datetime.fromisoformat(payload["received_at"]),
        media=tuple(MediaItem(**m) for m in payload.get("media") or ()),
        concat=ConcatInfo(**concat) if concat else None,
        truncated=bool(payload.get("truncated")),
    )


def _concat_key(inbound: InboundMessage) -> str | None:
    if inbound.concat is None or inbound.concat.total <= 1:
        return None
    return f"{inbound.provider}:{blind_index(inbound.from_)}:{inbound.concat.ref}"


@functools.cache
def _event_insert(dialect: str) -> Insert:
    """The event's ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``, built once per dialect: building
    it with the text's values each time (``.values(...)`` and its cache key) cost the webhook about as
    much processor time as executing it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(InboundEvent).on_conflict_do_nothing(index_elements=["provider", "provider_message_id"]).returning(
        InboundEvent.id
    )


def _insert_event(target: Session | Connection, inbound: InboundMessage, *, channel: str) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: the new event's id, ``None`` when it was already stored."""
    dialect = (target.get_bind() if isinstance(target, Session) else target).dialect.name
    values = {
        "provider": inbound.provider,
        "provider_message_id": inbound.provider_message_id,
        "channel": channel,
        "payload": _inbound_payload(inbound),
        "concat_key": _concat_key(inbound),
        "part": inbound.concat.part if inbound.concat else 1,
        "total": inbound.concat.total if inbound.concat else 1,
        "created_at": utcnow(),
    }
    return target.execute(_event_insert(dialect), values).scalar_one_or_none()


def announce_inbound(event_ids: Sequence[int]) -> None:
    """Hand stored events to the ingest worker: one Redis round trip, plus a drain job only when
    none is scheduled and none waits in the queue (so a burst of webhooks costs one RQ job per batch,
    not one per text, and busy workers do not pile up jobs that will find nothing to do)."""
    client = get_redis(get_settings())
    pipe = client.pipeline(transaction=False)
    pipe.rpush(PENDING_INBOUND_KEY, *event_ids)
    pipe.eval(_SCHEDULE_DRAIN, 2, DRAIN_SCHEDULED_KEY, DRAIN_QUEUED_KEY, _SCHEDULED_SECONDS, _QUEUED_SECONDS)
    _, scheduled = pipe.execute()
    if scheduled:
        try:
            enqueue(JobSpec(func=INGEST_JOB, job_id=f"ingest-drain:{uuid.uuid4().hex}", queue="inbound"))
        except Exception:
            client.delete(DRAIN_SCHEDULED_KEY, DRAIN_QUEUED_KEY)  # no job waits: the next text tries again
            raise


def drain_started(client: Any) -> None:
    """A drain job has started: none waits in the queue any more, so the next announcement may queue one."""
    client.delete(DRAIN_QUEUED_KEY)


def drain_gathering(client: Any) -> None:
    """A running drain waits for more texts before its next pop: announcements meanwhile schedule no other
    drain (the flag is up, as for a scheduled one; the drain's next pop clears it, or it expires)."""
    client.set(DRAIN_SCHEDULED_KEY, "1", ex=_SCHEDULED_SECONDS)


def store_inbound(texts: Sequence[InboundMessage], *, channel: str) -> int:
    """Store provider webhook texts as received and announce them; returns how many were new (a
    replay stores nothing).

    Each text is one INSERT in autocommit mode, committed by the statement itself: no BEGIN and
    COMMIT round trips for a webhook that holds one text (or one part of one). The announcement
    follows; when it is lost (Redis down, a crash), the periodic sweep of unprocessed events takes
    the text in.
    """
    with db.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        ids = [i for text in texts if (i := _insert_event(connection, text, channel=channel)) is not None]
    if ids:
        try:
            announce_inbound(ids)
        except Exception:  # stored: the sweep takes them in
            log.exception("inbound announcement failed; the sweep will take the events in", events=ids)
    return len(ids)


def stage_inbound(session: Session, *, inbound: InboundMessage, channel: str) -> int | None:
    """Store an inbound text as received (the webhook's only write) and announce it after commit.

    Returns the event id, or ``None`` when this provider message id was already stored (a replay).
    An event whose announcement is lost (crash right after commit) is picked up by the periodic
    sweep of unprocessed events.
    """
    event_id = _insert_event(session, inbound, channel=channel)
    if event_id is not None:
        after_commit(session, lambda: announce_inbound([event_id]))
    return event_id


def ingest_event(session: Session, event_id: int, *, queue_analysis: bool = True) -> Message | None:
    """Turn a stored event into a message (see :func:`persist_inbound`); idempotent."""
    event = session.get(InboundEvent, event_id)
    if event is None or event.processed_at is not None:
        return None
    message = persist_inbound(session, inbound=_inbound_from_payload(event.payload), provider=event.channel,
                              queue_analysis=queue_analysis)
    event.processed_at = utcnow()
    if message is not None:
        event.message_id = message.id
    session.flush()
    return message


def ingest_events(session: Session, events: Sequence[InboundEvent]) -> list[Message]:
    """:func:`ingest_event` (``queue_analysis=False``) for a batch of stored events, in their id
    order; returns the new messages, for the caller to analyse in this transaction.

    A run of whole texts costs one statement per kind (duplicate check, contacts, threads,
    messages, webhook subscriptions, the events' updates), not one per text; a part of a
    concatenated text goes through :func:`ingest_event` at its place in the order.
    """
    messages: list[Message] = []
    run: list[InboundEvent] = []
    for event in sorted(events, key=lambda e: e.id):
        if event.processed_at is not None:
            continue
        if event.concat_key is None:
            run.append(event)
            continue
        messages += _ingest_run(session, run)
        run = []
        message = ingest_event(session, event.id, queue_analysis=False)
        if message is not None:
            messages.append(message)
    return messages + _ingest_run(session, run)


def _ingest_run(session: Session, events: list[InboundEvent]) -> list[Message]:
    """Whole texts (no concatenation) to contacts, threads and messages, each kind in one statement."""
    if not events:
        return []
    texts = [(event, _inbound_from_payload(event.payload)) for event in events]
    known = {
        (provider, provider_id)
        for provider, provider_id in session.execute(
            select(Message.provider, Message.provider_message_id).where(
                Message.provider_message_id.in_([inbound.provider_message_id for _, inbound in texts])
            )
        )
    }
    now = utcnow()
    fresh = []
    for event, inbound in texts:
        if (inbound.provider, inbound.provider_message_id) not in known:
            known.add((inbound.provider, inbound.provider_message_id))
            fresh.append((event, inbound))
    contacts = get_or_create_many_by_phone(session, {inbound.from_: _whereabouts(inbound.from_)
                                                     for _, inbound in fresh})
    threads: dict[str, set[tuple[int, str]]] = {}
    for event, inbound in fresh:
        threads.setdefault(event.channel, set()).add((contacts[inbound.from_].id, inbound.to))
    conversations = {
        key: conversation
        for channel, keys in threads.items()
        for key, conversation in service.open_conversations(session, keys, channel=channel, message_at=now).items()
    }
    messages = [
        _inbound_row(inbound, contact=contacts[inbound.from_],
                     conversation=conversations[(contacts[inbound.from_].id, inbound.to)], at=now)
        for _, inbound in fresh
    ]
    session.add_all(messages)
    session.flush()
    # the session holds its objects weakly: kept, the analysis that follows in this transaction takes the
    # threads and senders from it instead of reading them again (``agent.inbound.handle_batch``)
    session.info.setdefault(LOADED, []).extend([*contacts.values(), *conversations.values()])
    # marked processed with their message's id in one UPDATE (set before the flush above, it cost one more)
    for event, _ in texts:
        event.processed_at = now
    for (event, _), message in zip(fresh, messages, strict=True):
        event.message_id = message.id
    webhooks.emit_many(session, "message.received", [
        _received_event(message, inbound) for (_, inbound), message in zip(fresh, messages, strict=True)
    ])
    session.flush()
    return messages


def persist_inbound(session: Session, *, inbound: InboundMessage, provider: str,
                    queue_analysis: bool = True) -> Message | None:
    """Create the contact, thread and message for a customer text; queue the agent pipeline.

    ``provider`` is the channel name (``simulator``, ``vonage``, ``smpp``) kept on the thread.
    ``queue_analysis=False``: the caller analyses the message itself in this transaction (the
    inbound batch), else :func:`queue_analysis` queues the agent's job after the commit.
    A part of a concatenated text is stored and ``None`` returned until every part is here; the
    last one yields the joined message. Returns ``None`` for a duplicate too.
    """
    key = _concat_key(inbound)
    if key is not None:
        joined = _join_parts(session, inbound, key=key, channel=provider)
        if joined is None:
            return None
        inbound = joined
    existing = session.scalar(
        select(Message.id).where(
            Message.provider == inbound.provider, Message.provider_message_id == inbound.provider_message_id
        )
    )
    if existing is not None:
        return None
    return _create_inbound(session, inbound, channel=provider, queue=queue_analysis)


def _join_parts(session: Session, inbound: InboundMessage, *, key: str, channel: str) -> InboundMessage | None:
    _insert_event(session, inbound, channel=channel)
    events = session.scalars(select(InboundEvent).where(InboundEvent.concat_key == key)).all()
    parts = {e.part: e for e in events}
    assert inbound.concat is not None
    if len(parts) < inbound.concat.total:
        return None
    ordered = [_inbound_from_payload(parts[n].payload) for n in sorted(parts)]
    media = tuple(m for p in ordered for m in p.media)
    return InboundMessage(
        provider=inbound.provider,
        provider_message_id=f"concat:{inbound.concat.ref}:{min(e.id for e in events)}",
        from_=inbound.from_,
        to=inbound.to,
        text="".join(p.text for p in ordered),
        received_at=min(p.received_at for p in ordered),
        media=media,
        truncated=any(p.truncated for p in ordered),
    )


def _whereabouts(phone: str) -> tuple[str, str | None]:
    """The number's country and time zone; unknown for a number phonenumbers cannot read (still a
    customer: the text is kept, routing just knows less)."""
    try:
        info = phone_info(phone)
    except InvalidPhoneNumber:
        return "", None
    return info.region or "", info.timezone


def _inbound_row(inbound: InboundMessage, *, contact: Contact, conversation: Conversation, at: datetime) -> Message:
    encoding = analyze(inbound.text)
    return Message(
        direction="in",
        contact_id=contact.id,
        conversation_id=conversation.id,
        body=inbound.text,
        media=media_dicts(inbound.media),
        sender=inbound.to,
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id,
        status="received",
        lane="conversational",
        author_type="customer",
        encoding=encoding.encoding,
        segments=encoding.segments,
        analysis={},
        created_at=at,
    )


def _received_event(message: Message, inbound: InboundMessage) -> dict[str, Any]:
    """The ``message.received`` webhook's data."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "contact_id": message.contact_id,
        "to": inbound.to,
        "media_count": len(message.media),
        "received_at": inbound.received_at.isoformat(),
    }


def _create_inbound(session: Session, inbound: InboundMessage, *, channel: str, queue: bool) -> Message:
    country, timezone = _whereabouts(inbound.from_)
    contact, _ = get_or_create_by_phone(
        session, phone_e164=inbound.from_, country=country, timezone=timezone, texted_in=True
    )
    now = utcnow()
    conversation = service.open_conversation(session, contact_id=contact.id, sender=inbound.to, channel=channel,
                                             message_at=now)
    message = _inbound_row(inbound, contact=contact, conversation=conversation, at=now)
    session.add(message)
    session.flush()
    webhooks.emit(session, "message.received", _received_event(message, inbound))
    if queue:
        queue_analysis(session, message)
    return message


def queue_analysis(session: Session, message: Message) -> None:
    """Queue the agent's job for inbound ``message`` once ``session`` commits (job id ``inbound:<id>``:
    it waits for the conversation's lock and is retried when it fails)."""
    enqueue_after_commit(
        session,
        JobSpec(func=PROCESS_INBOUND_JOB, args=(message.id, message.conversation_id), job_id=f"inbound:{message.id}",
                queue="inbound"),
    )


def count_staged(session: Session) -> int:
    """Inbound events stored so far (benchmarks and health checks)."""
    return int(session.scalar(select(func.count(InboundEvent.id))) or 0)
