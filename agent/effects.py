"""Decision -> effects: what acting on the agent's :class:`~agent.decision.Decision` changes.

``reply`` -> a bot message (``queue_outbound(author_type="bot")``) carrying the decision, sources
and path; ``opt_out`` -> ``record_opt_out`` and one confirmation (transactional lane with
``override_opt_out``, the confirmation carriers require); ``confirm_opt_out`` (an unsure
natural-language opt-out) -> the question "reply STOP ...", no consent change; ``opt_in`` ->
``record_opt_in`` and a confirmation; ``help`` -> the help text, answered even after STOP;
``escalate`` -> ``handoff.flows.escalate`` (queue, wait-time notice, routing); outside business
hours the notice waits for the routing: when an online agent took the conversation at once the
customer gets the ordinary wait-time notice, else the after-hours reply (once per
:data:`AFTER_HOURS_REPEAT` in a conversation) and no wait-time notice.

The agent acts through ``contacts.consent``, ``conversations.flows`` and ``handoff.flows``;
``handoff`` never imports ``agent`` (the import contract in ``.importlinter``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.decision import Decision
from agent.hours import BusinessHours, as_utc
from contacts import consent
from contacts.models import Contact
from conversations.flows import queue_outbound
from conversations.models import Conversation, Message
from handoff.flows import escalate, send_escalation_notice

#: An after-hours reply is not repeated within this period in one conversation.
AFTER_HOURS_REPEAT = timedelta(hours=12)


def act(
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
    """Carry out ``decision``, the answer to inbound ``message``; returns what was done.

    Args:
        record: the analysis stored on ``message`` (handoff keeps it on the escalation).
        hours: the business hours deciding, with the routing, between the wait-time notice and the
            after-hours reply.
        now: the moment of acting (UTC).
    """

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
        escalation = escalate(
            session,
            conversation=conversation,
            reason=decision.reason_code,
            analysis=record,
            reason_text=decision.reason,
            notify_customer=not closed,
        )
        if not closed:
            return "escalated"
        if escalation.status == "assigned":
            # an online agent has it already: "nobody is here until Monday" would be false
            send_escalation_notice(session, conversation=conversation, escalation=escalation)
            return "escalated (after hours, taken by an online agent)"
        if _after_hours_sent_recently(session, conversation, now):
            return "escalated (after hours)"
        send(
            hours.closed_reply_for(decision.language, now),
            "conversational",
            author_type="system",
            extra={"kind": "after_hours", "at": as_utc(now).isoformat()},
        )
        return "escalated (after hours, auto-reply sent)"
    return "silent"


def _reply_analysis(decision: Decision, message: Message) -> dict[str, Any]:
    """What a bot reply stores: the decision (with sources and path) and what it answers."""
    return {
        "in_reply_to": message.id,
        "path": decision.path,
        "decision": decision.to_dict(),
        "sources": [s.to_dict() for s in decision.sources],
    }


def _after_hours_sent_recently(session: Session, conversation: Conversation, now: datetime) -> bool:
    """Whether an after-hours reply went within :data:`AFTER_HOURS_REPEAT` before ``now``, on the clock
    passed to :func:`act` (the reply records it as ``analysis.at``): the stored ``created_at`` is the real
    time, which a controlled clock, a replayed or a late-processed text does not share. A reply stored
    before ``at`` was recorded falls back to its ``created_at``."""
    since = as_utc(now) - AFTER_HOURS_REPEAT
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "out", Message.author_type == "system")
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    return any((row.analysis or {}).get("kind") == "after_hours" and _sent_at(row) >= since for row in rows)


def _sent_at(row: Message) -> datetime:
    at = (row.analysis or {}).get("at")
    return as_utc(datetime.fromisoformat(at)) if isinstance(at, str) else as_utc(row.created_at)
