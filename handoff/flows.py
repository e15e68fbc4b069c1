"""Multi-step handoff work: escalate, route, assign, transfer, reply, hand back, close.

Each flow changes state, writes the audit log for people's actions, queues messages and
webhooks after commit, and tells live consoles (``handoff.events``).
"""

from __future__ import annotations

import math
from datetime import timedelta
from enum import Enum
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.consent import REFUSAL_TEXT, consent_verdicts
from contacts.models import Contact
from conversations.flows import queue_outbound
from conversations.models import Conversation, Message
from core import audit, webhooks
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import User
from core.settings import get_settings
from handoff import events, routing, service
from handoff.models import HANDED_BACK, AgentProfile, Escalation, Note, Team
from handoff.notices import escalation_notice

DISPOSITIONS = ("resolved", "no_response", "spam", "duplicate", "transferred_out", "other")
# the refusal of an action on a closed thread: it stays closed, and says what happens next
CLOSED = "this conversation is closed; the customer's next text starts a new one"


def open_escalation(session: Session, conversation_id: int) -> Escalation | None:
    return session.scalar(
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id, Escalation.status != "resolved")
        .order_by(Escalation.id.desc())
    )


def priority_for(analysis: dict[str, Any], contact: Contact | None, reason: str) -> int:
    """1 (urgent) to 4 (low): upset customers, abuse and valued customers come first."""
    priority = 3
    sentiment = analysis.get("sentiment")
    score = sentiment.get("score") if isinstance(sentiment, dict) else sentiment
    if isinstance(score, int | float) and score <= get_settings().sentiment_escalate_below:
        priority -= 1
    if reason in ("abuse", "negative_sentiment", "repeated_failure"):
        priority -= 1
    if contact is not None and ("vip" in (contact.tags or []) or (contact.attributes or {}).get("vip")):
        priority -= 1
    return max(1, min(4, priority))


def estimated_wait_minutes(session: Session) -> int:
    """Queue ahead × average handle time ÷ online agents, from the live queue (1–120 min)."""
    settings = get_settings()
    waiting = session.scalar(select(func.count()).select_from(Escalation).where(Escalation.status == "open")) or 0
    online = session.scalar(select(func.count()).select_from(AgentProfile).where(AgentProfile.status == "online")) or 0
    recent = session.execute(
        select(Escalation.assigned_at, Escalation.resolved_at)
        .where(Escalation.resolved_at.is_not(None), Escalation.assigned_at.is_not(None))
        .order_by(Escalation.id.desc())
        .limit(50)
    ).all()
    durations = [(r - a).total_seconds() / 60 for a, r in recent if r and a]
    handle = sum(durations) / len(durations) if durations else settings.handoff_default_handle_minutes
    minutes = math.ceil((waiting + 1) * handle / max(online, 1))
    if online == 0:
        minutes = max(minutes, settings.handoff_sla_minutes)
    return max(1, min(120, minutes))


def escalate(
    session: Session,
    *,
    conversation: Conversation,
    reason: str,
    analysis: dict[str, Any] | None = None,
    reason_text: str = "",
    notify_customer: bool = True,
) -> Escalation:
    """Queue ``conversation`` for a person, tell the customer when to expect them, try to route it.

    Args:
        notify_customer: send the wait-time notice (:func:`send_escalation_notice`) before routing;
            a caller choosing the notice by the routing's outcome passes ``False`` and reads
            ``escalation.status`` (``"assigned"`` when an agent took it at once).
    Returns:
        the new escalation, or the conversation's open one (then nothing is sent or routed).
    """
    analysis = analysis or {}
    existing = open_escalation(session, conversation.id)
    if existing is not None:
        return existing
    settings = get_settings()
    contact = session.get(Contact, conversation.contact_id)
    sentiment = analysis.get("sentiment")
    escalation = Escalation(
        conversation_id=conversation.id,
        reason_code=reason,
        reason_text=reason_text or str(analysis.get("reason_text", "")),
        priority=priority_for(analysis, contact, reason),
        language=conversation.language or analysis.get("language"),
        intent=(analysis.get("intent") or {}).get("name")
        if isinstance(analysis.get("intent"), dict)
        else analysis.get("intent"),
        sentiment=sentiment.get("score") if isinstance(sentiment, dict) else sentiment,
        sla_due_at=utcnow() + timedelta(minutes=settings.handoff_sla_minutes),
    )
    session.add(escalation)
    conversation.state = "queued"
    conversation.assigned_user_id = None
    session.flush()
    if notify_customer:
        send_escalation_notice(session, conversation=conversation, escalation=escalation)
    webhooks.emit(
        session,
        "conversation.escalated",
        {"conversation_id": conversation.id, "reason": reason, "priority": escalation.priority},
    )
    events.publish_after_commit(
        session, "conversation.escalated", conversation_id=conversation.id, priority=escalation.priority, reason=reason
    )
    route(session, escalation=escalation)
    return escalation


def send_escalation_notice(session: Session, *, conversation: Conversation, escalation: Escalation) -> None:
    """Tell the customer a person will answer, with the estimated wait, in the escalation's language."""
    contact = session.get(Contact, conversation.contact_id)
    if contact is None:
        return
    queue_outbound(
        session,
        contact=contact,
        body=escalation_notice(escalation.language, estimated_wait_minutes(session)),
        lane="conversational",
        author_type="system",
        conversation=conversation,
        analysis={"kind": "escalation_notice"},
    )


def route(session: Session, *, escalation: Escalation, exclude: set[int] | None = None) -> int | None:
    """Assign an open escalation to the best available agent; returns the user id or ``None``."""
    strategy: str = get_settings().handoff_routing
    if escalation.team_id is not None:
        team = session.get(Team, escalation.team_id)
        strategy = team.routing if team else strategy
    chosen = routing.pick(routing.candidates(session, escalation, exclude=exclude), strategy)
    if chosen is None:
        return None
    conversation = session.get(Conversation, escalation.conversation_id)
    if conversation is None:
        return None
    _assign(session, conversation, escalation, chosen.user_id)
    return chosen.user_id


def _assign(session: Session, conversation: Conversation, escalation: Escalation | None, user_id: int) -> None:
    conversation.state = "human"
    conversation.assigned_user_id = user_id
    if escalation is not None:
        escalation.status = "assigned"
        escalation.assigned_user_id = user_id
        escalation.assigned_at = escalation.assigned_at or utcnow()
    profile = session.get(AgentProfile, user_id)
    if profile is not None:
        profile.last_assigned_at = utcnow()
    session.flush()
    events.publish_after_commit(session, "conversation.assigned", conversation_id=conversation.id, user_id=user_id)


def _name(session: Session, user_id: int | None) -> str:
    """How a refusal names the person who has a conversation."""
    user = session.get(User, user_id) if user_id is not None else None
    return (user.name or user.email) if user is not None else "another agent"


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


class Owner(Enum):
    """:func:`assign`'s ``taking_from`` for a caller who takes the conversation whoever has it (routing, the API)."""

    ANY = "any"


def assign(
    session: Session,
    *,
    conversation_id: int,
    user_id: int,
    actor: Actor,
    taking_from: int | Literal[Owner.ANY] | None = Owner.ANY,
) -> Conversation:
    """A person takes (or gives) a conversation; an escalation is opened if there was none.

    Args:
        taking_from: who the person saw with the conversation when they chose to take it (``None``: nobody).
            A console page drawn before a colleague took it offered "Assign to me" without asking, and took
            it from them without a word; now the person is told and asked again.

    Raises:
        ValidationFailed: ``user_id`` is not an active agent or admin (a thread given to an analyst,
            a marketer or a deactivated account would wait for someone who cannot open it).
        Conflict: the conversation is closed, or someone other than ``taking_from`` (and ``user_id``) has it, or
            it is given to someone else who is not at a console (see :func:`_refuse_absent`); a person taking it
            for themselves is signed in by definition.
    """
    conversation = _conversation(session, conversation_id)
    if conversation.state == "closed":
        raise Conflict(CLOSED)
    owner = conversation.assigned_user_id if conversation.state == "human" else None
    if taking_from is not Owner.ANY and owner not in (taking_from, user_id, None):
        raise Conflict(f"{_name(session, owner)} took this conversation meanwhile: "
                       "press Assign to me again to take it over from them")
    _check_taker(session, user_id)
    if (actor.type, actor.id) != ("user", str(user_id)):
        _refuse_absent(session, user_id, "assign it to a colleague who is signed in, or leave it in the queue")
    _give(session, conversation, user_id, actor, "conversation.assign")
    return conversation


def _check_taker(session: Session, user_id: int) -> None:
    target = session.get(User, user_id)
    if target is None or not target.is_active or target.role not in routing.TAKES_CONVERSATIONS:
        raise ValidationFailed(f"user {user_id} is not an active agent", errors=[{"field": "user_id"}])


def _refuse_absent(session: Session, user_id: int, instead: str) -> None:
    """A conversation given to someone with no live console session was taken, and the SLA job put it back in the
    queue half a minute later (``routing.absent_owners``) without a word: refused in words, saying what to do."""
    if not routing.at_console(session, {user_id}):
        raise Conflict(f"{_name(session, user_id)} is not signed in to the console, so the conversation would "
                       f"come back to the queue: {instead}")


def _give(session: Session, conversation: Conversation, user_id: int, actor: Actor, action: str) -> None:
    """Give the conversation to ``user_id`` (checked), opening an escalation if there was none, audited as
    ``action``: an assignment or a transfer."""
    escalation = open_escalation(session, conversation.id)
    if escalation is None:
        escalation = Escalation(
            conversation_id=conversation.id,
            reason_code="agent_takeover",
            priority=3,
            language=conversation.language,
            sla_due_at=utcnow() + timedelta(minutes=get_settings().handoff_sla_minutes),
        )
        session.add(escalation)
        session.flush()
    before = {"state": conversation.state, "assigned_user_id": conversation.assigned_user_id}
    _assign(session, conversation, escalation, user_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="conversation",
        target_id=conversation.id,
        diff=audit.changes(before, {"state": conversation.state, "assigned_user_id": user_id}),
    )


def transfer(
    session: Session,
    *,
    conversation_id: int,
    actor: Actor,
    to_user_id: int | None = None,
    to_team_id: int | None = None,
) -> Conversation:
    """Move a conversation to another agent, or back to the queue of a team (routed at once if possible); audited
    ``conversation.transfer`` either way.

    Raises:
        ValidationFailed: ``to_user_id`` is not an active agent or admin.
        Conflict: the conversation is closed (a page drawn before a colleague closed it put it back in a team's
            queue, with no customer waiting), or the agent is not at a console: it was given to them, and the SLA
            job put it back in the queue half a minute later (``routing.absent_owners``), routed to the sender again.
    """
    if (to_user_id is None) == (to_team_id is None):
        raise ValidationFailed("give exactly one of to_user_id and to_team_id")
    conversation = _conversation(session, conversation_id)
    if conversation.state == "closed":
        raise Conflict(CLOSED)
    if to_user_id is not None:
        _check_taker(session, to_user_id)
        _refuse_absent(session, to_user_id, "transfer it to a colleague who is signed in, or to a team")
        _give(session, conversation, to_user_id, actor, "conversation.transfer")
        return conversation
    escalation = open_escalation(session, conversation_id)
    if session.get(Team, to_team_id) is None:
        raise NotFound(f"team {to_team_id} not found")
    if escalation is None:
        escalation = escalate(session, conversation=conversation, reason="transfer", notify_customer=False)
    escalation.team_id = to_team_id
    escalation.status = "open"
    escalation.assigned_user_id = None
    conversation.state = "queued"
    conversation.assigned_user_id = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="conversation.transfer",
        target_type="conversation",
        target_id=conversation.id,
        diff={"team_id": to_team_id},
    )
    events.publish_after_commit(
        session, "conversation.transferred", conversation_id=conversation.id, team_id=to_team_id
    )
    route(session, escalation=escalation)
    return conversation


def _resolve(session: Session, conversation: Conversation, disposition: str) -> None:
    escalation = open_escalation(session, conversation.id)
    if escalation is not None:
        escalation.status = "resolved"
        escalation.resolved_at = utcnow()
        escalation.disposition = disposition


def handback(session: Session, *, conversation_id: int, actor: Actor) -> Conversation:
    """Return the conversation to the bot, which answers the customer's next message."""
    conversation = _conversation(session, conversation_id)
    if conversation.state == "closed":
        raise Conflict(CLOSED)
    _resolve(session, conversation, HANDED_BACK)
    conversation.state = "bot"
    conversation.assigned_user_id = None
    session.flush()
    audit.record(
        session, actor=actor, action="conversation.handback", target_type="conversation", target_id=conversation.id
    )
    events.publish_after_commit(session, "conversation.handed_back", conversation_id=conversation.id)
    return conversation


def close(session: Session, *, conversation_id: int, disposition: str, actor: Actor) -> Conversation:
    """End the conversation with a disposition; the customer's next text starts a new one.

    Raises:
        Conflict: it is closed already (a second close, from a page drawn before a colleague closed it, replaced
            their time and disposition, was audited again and sent the ``conversation.closed`` webhook twice).
    """
    if disposition not in DISPOSITIONS:
        raise ValidationFailed(
            f"disposition must be one of {', '.join(DISPOSITIONS)}", errors=[{"field": "disposition"}]
        )
    conversation = _conversation(session, conversation_id)
    if conversation.state == "closed":
        raise Conflict(CLOSED)
    _resolve(session, conversation, disposition)
    conversation.state = "closed"
    conversation.closed_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="conversation.close",
        target_type="conversation",
        target_id=conversation.id,
        diff={"disposition": disposition},
    )
    webhooks.emit(session, "conversation.closed", {"conversation_id": conversation.id, "disposition": disposition})
    events.publish_after_commit(session, "conversation.closed", conversation_id=conversation.id)
    return conversation


def agent_reply(session: Session, *, conversation_id: int, user_id: int | None, body: str, actor: Actor) -> Message:
    """A person answers, taking the conversation first if nobody owns it.

    ``user_id`` is ``None`` for an integration (API key): it writes into the thread as ``api``
    without taking ownership.

    Raises:
        ValidationFailed: an empty reply, or a customer no text may reach (opted out, suppressed,
            erased, unusable number; field ``to``, ``reason`` the verdict), refused before anything
            is queued or assigned, as an ad-hoc send is: it was queued, shown "queued" to the agent,
            then closed "rejected" by the send job.
        Conflict: the conversation is closed, or a colleague owns it.
    """
    conversation = _conversation(session, conversation_id)
    if not body.strip():
        raise ValidationFailed("reply is empty", errors=[{"field": "body"}])
    if conversation.state == "closed":
        raise Conflict(CLOSED)
    refused = consent_verdicts(session, [conversation.contact_id], "conversational").get(conversation.contact_id)
    if refused:
        until = " until they text START" if refused == "opted_out" else ""
        raise ValidationFailed(f"no reply can reach this customer: {REFUSAL_TEXT[refused]}{until}",
                               errors=[{"field": "to", "reason": refused}])
    if user_id is not None:
        if conversation.assigned_user_id not in (None, user_id) and conversation.state == "human":
            who = _name(session, conversation.assigned_user_id)
            raise Conflict(f"{who} has this conversation: assign it to yourself first, then reply")
        if conversation.state != "human" or conversation.assigned_user_id != user_id:
            assign(session, conversation_id=conversation_id, user_id=user_id, actor=actor)
        escalation = open_escalation(session, conversation_id)
        if escalation is not None and escalation.first_response_at is None:
            escalation.first_response_at = utcnow()
    contact = session.get(Contact, conversation.contact_id)
    if contact is None:
        raise NotFound("the contact of this conversation is gone")
    message = queue_outbound(
        session,
        contact=contact,
        body=body,
        lane="conversational",
        author_type="agent" if user_id is not None else "api",
        author_id=str(user_id or actor.id),
        conversation=conversation,
    )
    audit.record(
        session,
        actor=actor,
        action="conversation.reply",
        target_type="conversation",
        target_id=conversation.id,
        diff={"message_id": message.id},
    )
    # a colleague or a supervisor with the thread open, and every inbox's excerpt, see the reply now (not at the
    # next 20 s poll); a reply through the API reaches the agent's open page the same way
    events.publish_after_commit(session, "message.sent", conversation_id=conversation.id, message_id=message.id)
    return message


def add_note(session: Session, *, conversation_id: int, user_id: int | None, body: str, actor: Actor) -> Note:
    _conversation(session, conversation_id)
    if not body.strip():
        raise ValidationFailed("note is empty", errors=[{"field": "body"}])
    note = Note(conversation_id=conversation_id, author_user_id=user_id, body=body)
    session.add(note)
    session.flush()
    audit.record(
        session, actor=actor, action="conversation.note", target_type="conversation", target_id=conversation_id
    )
    events.publish_after_commit(session, "note.added", conversation_id=conversation_id, note_id=note.id)
    return note


def set_agent_status(session: Session, *, user_id: int, status: str, actor: Actor) -> AgentProfile:
    """Going away or offline puts the agent's conversations back in the queue for others.

    The status the agent already has (offline for one who never set one) changes nothing: no audit entry, no
    re-queue, no routing, no event. A second tab drawn before a change, or an integration setting it again, wrote
    "online → online" in the audit log as a change.
    """
    if status not in ("online", "away", "offline"):
        raise ValidationFailed("status must be online, away or offline", errors=[{"field": "status"}])
    profile = session.get(AgentProfile, user_id) or service.unsaved_profile(user_id)
    if profile.status == status:
        return profile
    session.add(profile)
    before = profile.status
    profile.status = status
    profile.status_changed_at = utcnow()
    session.flush()
    if status != "online":
        requeue_agent_conversations(session, user_id=user_id)
    else:
        route_waiting(session)
    audit.record(
        session,
        actor=actor,
        action="agent.status",
        target_type="user",
        target_id=user_id,
        diff={"status": [before, status]},
    )
    events.publish_after_commit(session, "agent.status", user_id=user_id, status=status)
    return profile


def requeue_agent_conversations(session: Session, *, user_id: int) -> int:
    owned = session.scalars(
        select(Conversation).where(Conversation.assigned_user_id == user_id, Conversation.state == "human")
    ).all()
    for conversation in owned:
        escalation = open_escalation(session, conversation.id)
        conversation.state = "queued"
        conversation.assigned_user_id = None
        if escalation is not None:
            escalation.status = "open"
            escalation.assigned_user_id = None
            escalation.requeue_count += 1
        session.flush()
        if escalation is not None:
            route(session, escalation=escalation, exclude={user_id})
    return len(owned)


def route_waiting(session: Session) -> int:
    """Try to place every open escalation, most urgent and oldest first."""
    placed = 0
    waiting = session.scalars(
        select(Escalation).where(Escalation.status == "open").order_by(Escalation.priority, Escalation.created_at)
    ).all()
    for escalation in waiting:
        if route(session, escalation=escalation) is not None:
            placed += 1
    return placed


def check_sla(session: Session) -> int:
    """Mark missed SLAs, raise their priority, put back in the queue the conversations of agents no longer at a
    console (``routing.absent_owners``) and try to route them again; returns how many breached."""
    now = utcnow()
    breached = session.scalars(
        select(Escalation).where(
            Escalation.status == "open", Escalation.sla_breached.is_(False), Escalation.sla_due_at < now
        )
    ).all()
    for escalation in breached:
        escalation.sla_breached = True
        escalation.priority = max(1, escalation.priority - 1)
        events.publish_after_commit(session, "sla.breached", conversation_id=escalation.conversation_id)
    session.flush()
    for user_id in routing.absent_owners(session):  # logged out, deactivated or no longer an agent
        requeue_agent_conversations(session, user_id=user_id)
    route_waiting(session)
    return len(breached)
