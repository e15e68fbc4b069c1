"""``process_inbound(message_id)``: run the agent on a received message and act on its decision.

Queued by ``conversations.flows.persist_inbound`` (job id ``inbound:<id>``). Guarantees:

* **Idempotent**: a message whose ``analysis`` already holds a decision is not processed again
  (a retried or duplicated job does nothing).
* **One at a time per conversation**: the work runs under the conversation's Redis lock, so two
  texts a second apart are handled in turn, each seeing the other in its history.
* **The bot is silent while a person owns the thread** (state ``queued`` or ``human``): the
  analysis is recorded for the agent's console, nothing is sent. Compliance keywords still act:
  a STOP is honoured and confirmed whoever owns the conversation.
* **Business hours**: when a message needs a person outside the profile's hours, the customer
  gets the after-hours reply (once per closed period) instead of the queue-time notice.

Acting: ``reply`` -> ``queue_outbound(author_type="bot")`` with the decision, sources and path on
the outbound message; ``opt_out`` -> ``record_opt_out`` + one confirmation (transactional lane with
``override_opt_out``, so consent checks let it through); ``confirm_opt_out`` (an unsure
natural-language opt-out) -> the question "reply STOP ...", no consent change; ``opt_in`` ->
``record_opt_in`` + confirmation; ``help`` -> help text; ``escalate`` -> ``handoff.flows.escalate``.
A picture sent without text is escalated (``media_only``) rather than left unanswered.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.decision import Decision
from agent.hours import BusinessHours
from agent.runtime import DEFAULT_KB, get_runtime
from agent.service import history_for
from contacts import consent
from contacts.models import Contact
from conversations.flows import queue_outbound
from conversations.lock import conversation_lock
from conversations.models import Conversation, Message
from core.db import session_scope, utcnow
from handoff import events
from handoff.flows import escalate

#: Conversation states in which a person owns the thread.
HUMAN_STATES = ("queued", "human")

#: An after-hours reply is not repeated within this period in one conversation.
AFTER_HOURS_REPEAT = timedelta(hours=12)

#: A contact's language is learnt from a message detected with at least this confidence.
LANGUAGE_LEARN_CONFIDENCE = 0.8


def process_inbound(message_id: int) -> str:
    """Analyse inbound message ``message_id`` and act on the decision; returns what was done."""
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None or message.direction != "in" or message.conversation_id is None:
            return "skipped: not an inbound conversation message"
        if (message.analysis or {}).get("decision"):
            return "skipped: already processed"
        conversation_id = message.conversation_id
    with conversation_lock(conversation_id), session_scope() as session:
        return _process(session, message_id)


def _process(session: Session, message_id: int, now: datetime | None = None) -> str:
    message = session.get(Message, message_id)
    if message is None or (message.analysis or {}).get("decision"):
        return "skipped: already processed"
    conversation = session.get(Conversation, message.conversation_id)
    contact = session.get(Contact, message.contact_id)
    if conversation is None or contact is None:
        return "skipped: conversation or contact is gone"
    runtime = get_runtime()
    pipeline = runtime.pipeline()
    owned = conversation.state in HUMAN_STATES
    analysis = pipeline.analyze(
        message.body or "",
        contact_language=contact.language,
        history=history_for(session, message),
        kb=DEFAULT_KB,
        opted_out=contact.opted_out,
        use_llm=not owned,
    )
    decision = analysis.decision
    if decision.action == "silent" and message.media:
        # a photo with no text (a broken lamp...) is for a person to look at, not for silence
        decision = replace(decision, action="escalate", reason_code="media_only",
                           reason="a picture or file without text")
        analysis = replace(analysis, decision=decision)
    record = analysis.to_dict()
    _learn_language(conversation, contact, record)
    if owned and decision.action not in ("opt_out", "confirm_opt_out", "help", "opt_in"):
        record["handled"] = f"silent: the conversation is {conversation.state} for a person"
        events.publish_after_commit(
            session, "message.received", conversation_id=conversation.id, message_id=message.id
        )
    else:
        record["handled"] = _act(
            session,
            decision=decision,
            record=record,
            message=message,
            conversation=conversation,
            contact=contact,
            hours=runtime.profile.hours,
            now=now or utcnow(),
        )
    message.analysis = record
    session.flush()
    return str(record["handled"])


def _learn_language(conversation: Conversation, contact: Contact, record: dict[str, Any]) -> None:
    language = record.get("language")
    if not isinstance(language, dict):
        return
    conversation.language = language["code"]
    if contact.language is None and language["confidence"] >= LANGUAGE_LEARN_CONFIDENCE:
        contact.language = language["code"]


def _reply_analysis(decision: Decision, message: Message) -> dict[str, Any]:
    """What a bot reply stores: the decision (with sources and path) and what it answers."""
    return {
        "in_reply_to": message.id,
        "path": decision.path,
        "decision": decision.to_dict(),
        "sources": [s.to_dict() for s in decision.sources],
    }


def _act(
    session: Session,
    *,
    decision: Decision,
    record: dict[str, Any],
    message: Message,
    conversation: Conversation,
    contact: Contact,
    hours: BusinessHours,
    now: datetime,
) -> str:
    def send(body: str, lane: str, author_type: str = "bot", extra: dict[str, Any] | None = None,
             *, override_opt_out: bool = False) -> None:
        queue_outbound(
            session,
            contact=contact,
            body=body,
            lane=lane,
            author_type=author_type,
            conversation=conversation,
            analysis={**_reply_analysis(decision, message), **(extra or {})},
            override_opt_out=override_opt_out,
        )

    action = decision.action
    if action == "reply" and decision.reply:
        send(decision.reply, "conversational")
        return f"replied ({decision.path})"
    if action == "opt_out":
        already = contact.opted_out
        source = "keyword" if decision.reason_code == "keyword_opt_out" else "natural_language"
        consent.record_opt_out(session, contact=contact, source=source, proof=(message.body or "")[:200])
        if already or not decision.reply:
            return "opted out (already opted out: no new confirmation)"
        # the one confirmation carriers require reaches the number that just opted out
        send(decision.reply, "transactional", override_opt_out=True)
        return "opted out and confirmed"
    if action == "confirm_opt_out" and decision.reply:
        # maybe an opt-out ("stop sending me the wrong size"): ask for STOP, change no consent
        send(decision.reply, "transactional")
        return "asked to confirm the opt-out"
    if action == "opt_in":
        consent.record_opt_in(session, contact=contact, source="keyword", proof=(message.body or "")[:200])
        if decision.reply:
            send(decision.reply, "transactional")
        return "opted in and confirmed"
    if action == "help" and decision.reply:
        send(decision.reply, "transactional", override_opt_out=True)  # HELP is answered even after STOP
        return "help sent"
    if action == "escalate":
        closed = not hours.is_open(now)
        notice_sent = False
        if closed and not _after_hours_sent_recently(session, conversation, now):
            send(
                hours.closed_reply_for(decision.language, now),
                "conversational",
                author_type="system",
                extra={"kind": "after_hours"},
            )
            notice_sent = True
        escalate(
            session,
            conversation=conversation,
            reason=decision.reason_code,
            analysis=record,
            reason_text=decision.reason,
            notify_customer=not closed,
        )
        return "escalated" + (" (after hours, auto-reply sent)" if notice_sent else " (after hours)" if closed else "")
    return "silent"


def _after_hours_sent_recently(session: Session, conversation: Conversation, now: datetime) -> bool:
    since = _utc(now) - AFTER_HOURS_REPEAT
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "out", Message.author_type == "system")
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    return any((row.analysis or {}).get("kind") == "after_hours" and _utc(row.created_at) >= since for row in rows)


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
