"""Handling one received message: analyse it in its conversation, then act (``agent.effects``).

Called by the inbound job (``workers.jobs.inbound.process_inbound``) under the conversation's
lock, in the job's transaction. Rules that sit between the pipeline and the effects:

* **The bot is silent while a person owns the thread** (state ``queued`` or ``human``): the
  analysis is recorded for the agent's console (which is told a message arrived), nothing is
  sent. Compliance keywords still act: a STOP is honoured and confirmed whoever owns it.
* **A picture sent without text** is escalated (``media_only``) rather than left unanswered.
* **Language**: the conversation takes the detected language; a contact without one learns it
  from a confident detection (:data:`LANGUAGE_LEARN_CONFIDENCE`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.effects import act
from agent.language import language_prior
from agent.runtime import DEFAULT_KB, get_runtime
from agent.service import history_for
from contacts.models import Contact
from conversations.models import Conversation, Message
from core.db import utcnow
from handoff import events

#: Conversation states in which a person owns the thread.
HUMAN_STATES = ("queued", "human")

#: Decisions acted on even while a person owns the thread (compliance keywords and their kin).
ALWAYS_ACTED_ON = ("opt_out", "confirm_opt_out", "help", "opt_in")

#: A contact's language is learnt from a message detected with at least this confidence.
LANGUAGE_LEARN_CONFIDENCE = 0.8


def handle_inbound(session: Session, message_id: int, *, now: datetime | None = None) -> str:
    """Analyse inbound message ``message_id`` and act on the decision; returns what was done.

    The analysis, with ``handled`` saying what was done, is stored on the message; a message that
    already holds a decision is left alone (``"skipped: already processed"``), and so is one that
    is not a customer's text in a conversation.
    """
    # the message, its thread and its sender in one round trip
    row = session.execute(
        select(Message, Conversation, Contact)
        .outerjoin(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Contact, Contact.id == Message.contact_id)
        .where(Message.id == message_id)
    ).one_or_none()
    if row is None or row[0].direction != "in" or row[0].conversation_id is None:
        return "skipped: not an inbound conversation message"
    message, conversation, contact = row
    if (message.analysis or {}).get("decision"):
        return "skipped: already processed"
    if conversation is None or contact is None:
        return "skipped: conversation or contact is gone"
    runtime = get_runtime()
    owned = conversation.state in HUMAN_STATES
    analysis = runtime.pipeline(session).analyze(
        message.body or "",
        contact_language=language_prior(contact.language, contact.phone),
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
    if owned and decision.action not in ALWAYS_ACTED_ON:
        record["handled"] = f"silent: the conversation is {conversation.state} for a person"
        events.publish_after_commit(
            session, "message.received", conversation_id=conversation.id, message_id=message.id
        )
    else:
        record["handled"] = act(
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
