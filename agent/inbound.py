"""Handling received messages: analyse each in its conversation, then act (``agent.effects``).

Called under the conversations' locks, in the caller's transaction: by the inbound batch
(:mod:`agent.intake`, many messages in one pipeline call) and by the inbound job
(``workers.jobs.inbound.process_inbound``, one message). Rules that sit between the pipeline and
the effects:

* **The bot is silent while a person owns the thread** (state ``queued`` or ``human``): the
  analysis is recorded for the agent's console (which is told a message arrived), nothing is
  sent. Compliance keywords still act: a STOP is honoured and confirmed whoever owns it.
* **A thread handed back to the bot** (its latest escalation ``handed_back``) is answered as any
  other, and the console is told too (``message.received``), so an agent's open thread shows the
  text and the bot's answer at once.
* **A picture sent without text** is escalated (``media_only``) rather than left unanswered.
* **Language**: the conversation takes the detected language; a contact without one learns it
  from a confident detection (:data:`LANGUAGE_LEARN_CONFIDENCE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from agent.effects import act
from agent.hours import BusinessHours
from agent.language import language_prior
from agent.pipeline import Analysis, Inbound, Pipeline
from agent.runtime import DEFAULT_KB, get_runtime
from agent.service import histories_for
from contacts.models import Contact
from conversations.models import Conversation, Message
from conversations.service import threads_created
from core.db import utcnow
from handoff import events
from handoff.service import handed_back

_T = TypeVar("_T")

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
    return handle_batch(session, [message_id], now=now)[message_id]


def handle_batch(session: Session, message_ids: Sequence[int], *, now: datetime | None = None) -> dict[int, str]:
    """:func:`handle_inbound` for many messages at once; returns what was done per message id.

    The caller holds the locks of their conversations. The messages are analysed in rounds, each
    one pipeline call (one encoder call) over the oldest not yet handled message of every contact
    in the batch; each is acted on and the round flushed before the next, so a contact's second
    text sees its first, the reply and any STOP in its history and consent, as it would one job
    after another.
    """
    rows = _in_session(session, message_ids)
    if rows is None:
        rows = [(row[0], row[1], row[2]) for row in session.execute(
            select(Message, Conversation, Contact)
            .outerjoin(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(Contact, Contact.id == Message.contact_id)
            .where(Message.id.in_(list(message_ids)))
            .order_by(Message.id)
        )]
    done = dict.fromkeys(message_ids, "skipped: not an inbound conversation message")
    queues: dict[int, list[_Turn]] = {}
    for message, conversation, contact in rows:
        if message.direction != "in" or message.conversation_id is None:
            continue
        if (message.analysis or {}).get("decision"):
            done[message.id] = "skipped: already processed"
        elif conversation is None or contact is None:
            done[message.id] = "skipped: conversation or contact is gone"
        else:
            queues.setdefault(contact.id, []).append(_Turn(message, conversation, contact))
    if not queues:
        return done
    runtime = get_runtime()
    pipeline = runtime.pipeline(session)
    moment = now or utcnow()
    # threads this transaction created: no agent handed them back, and in the first round no earlier turn
    created = threads_created(session)
    first_round = True
    while queues:
        batch = [turns.pop(0) for turns in queues.values()]
        queues = {key: turns for key, turns in queues.items() if turns}
        watched = handed_back(session, [turn.conversation.id for turn in batch
                                        if not turn.owned and turn.conversation.id not in created])
        analyses = _analyse(session, pipeline, batch, no_history=created if first_round else set())
        first_round = False
        for turn, analysis in zip(batch, analyses, strict=True):
            done[turn.message.id] = _act_on(session, turn, analysis, hours=runtime.profile.hours, now=moment)
            if turn.conversation.id in watched:
                # the agent who handed it back may have the thread open: show the text and the bot's answer now
                events.publish_after_commit(
                    session, "message.received", conversation_id=turn.conversation.id, message_id=turn.message.id
                )
        session.flush()
    return done


def _in_session(session: Session, message_ids: Sequence[int]) -> list[tuple[Message, Conversation, Contact]] | None:
    """The messages with their threads and senders when ``session`` holds them all loaded (the inbound
    batch has just created or read them in this transaction: reading them again cost a statement per
    batch); ``None`` when any is missing or expired, for the caller to read them."""
    rows = []
    for message_id in sorted(set(message_ids)):
        message = _loaded(session, Message, message_id)
        if message is None or message.conversation_id is None:
            return None
        conversation = _loaded(session, Conversation, message.conversation_id)
        contact = _loaded(session, Contact, message.contact_id) if message.contact_id is not None else None
        if conversation is None or contact is None:
            return None
        rows.append((message, conversation, contact))
    return rows


def _loaded(session: Session, model: type[_T], key: int) -> _T | None:
    found = session.identity_map.get(identity_key(model, key))
    return found if found is not None and not inspect(found).expired_attributes else None


@dataclass(frozen=True)
class _Turn:
    """A received message with its thread and sender, loaded together."""

    message: Message
    conversation: Conversation
    contact: Contact

    @property
    def owned(self) -> bool:
        return self.conversation.state in HUMAN_STATES


def _analyse(session: Session, pipeline: Pipeline, batch: list[_Turn], *, no_history: set[int]) -> list[Analysis]:
    """One pipeline call per LLM setting (a thread a person owns never gets an LLM answer); the
    histories of the threads in ``no_history`` (known to be empty) are not read."""
    asked = [turn.message for turn in batch if turn.conversation.id not in no_history]
    read = dict(zip((m.id for m in asked), histories_for(session, asked), strict=True))
    histories = [read.get(turn.message.id, ()) for turn in batch]
    items = [
        Inbound(text=turn.message.body or "",
                contact_language=language_prior(turn.contact.language, turn.contact.phone),
                history=history, opted_out=turn.contact.opted_out)
        for turn, history in zip(batch, histories, strict=True)
    ]
    analyses: list[Analysis | None] = [None] * len(batch)
    for use_llm in (True, False):
        picked = [n for n, turn in enumerate(batch) if turn.owned != use_llm]
        if picked:
            found = pipeline.analyze_batch([items[n] for n in picked], kb=DEFAULT_KB, use_llm=use_llm)
            for n, analysis in zip(picked, found, strict=True):
                analyses[n] = analysis
    return [a for a in analyses if a is not None]


def _act_on(session: Session, turn: _Turn, analysis: Analysis, *, hours: BusinessHours, now: datetime) -> str:
    """Store ``analysis`` on the message and act on its decision (or stay silent for a person)."""
    message, conversation, contact = turn.message, turn.conversation, turn.contact
    decision = analysis.decision
    if decision.action == "silent" and message.media:
        # a photo with no text (a broken lamp...) is for a person to look at, not for silence
        decision = replace(decision, action="escalate", reason_code="media_only",
                           reason="a picture or file without text")
        analysis = replace(analysis, decision=decision)
    record = analysis.to_dict()
    _learn_language(conversation, contact, record)
    if turn.owned:
        # the person who has the thread, or the queue it waits in, shows the text now; a STOP too, which the bot acts
        # on: it reached an open thread at the 20 s poll, the reply box still offered
        events.publish_after_commit(
            session, "message.received", conversation_id=conversation.id, message_id=message.id
        )
    if turn.owned and decision.action not in ALWAYS_ACTED_ON:
        record["handled"] = f"silent: the conversation is {conversation.state} for a person"
    else:
        record["handled"] = act(
            session,
            decision=decision,
            record=record,
            message=message,
            conversation=conversation,
            contact=contact,
            hours=hours,
            now=now,
        )
    message.analysis = record
    return str(record["handled"])


def _learn_language(conversation: Conversation, contact: Contact, record: dict[str, Any]) -> None:
    language = record.get("language")
    if not isinstance(language, dict):
        return
    conversation.language = language["code"]
    if contact.language is None and language["confidence"] >= LANGUAGE_LEARN_CONFIDENCE:
        contact.language = language["code"]
