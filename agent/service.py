"""Agent services over the database and the loaded runtime: analysis for people (API, CLI), a
conversation's recent turns, and intent model training (inline for the CLI; the API queues
:mod:`agent.intent_jobs`).

Acting on a decision (sending, opting out, escalating) is ``agent.effects``, called for each
received message by ``agent.inbound``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.context import Role, Turn
from agent.intent import IntentModelStore, load_deployment_spec, train_intents
from agent.intent.spec import IntentSpec
from agent.pipeline import Analysis
from agent.runtime import DEFAULT_KB, get_runtime, intent_store
from conversations.models import Message
from core.settings import Settings, get_settings

#: Earlier messages of the conversation given to the pipeline.
HISTORY_TURNS = 10

_ROLES: dict[str, Role] = {"customer": "customer", "bot": "bot", "agent": "agent"}


def history_for(session: Session, message: Message, limit: int = HISTORY_TURNS) -> tuple[Turn, ...]:
    """The ``limit`` messages of ``message``'s conversation before it, oldest first."""
    if message.conversation_id is None:
        return ()
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == message.conversation_id, Message.id < message.id)
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return tuple(Turn(role=_ROLES.get(m.author_type, "system"), text=m.body or "") for m in reversed(rows))


def analyze_text(text: str, *, language: str | None = None, kb: str = DEFAULT_KB, use_llm: bool = True,
                 history: tuple[Turn, ...] = (), opted_out: bool = False) -> Analysis:
    """The full analysis of ``text`` with this process's runtime (API ``agent/analyze``, CLI)."""
    pipeline = get_runtime().pipeline()
    return pipeline.analyze(text, contact_language=language, history=history, kb=kb, opted_out=opted_out,
                            use_llm=use_llm)


def train_and_store(spec: IntentSpec, *, store: IntentModelStore, activate: bool = True,
                    before_storing: Callable[[], object] = lambda: None) -> str:
    """Train ``spec`` (already merged with the built-in intents) and store it; returns the version.
    ``before_storing`` is called between the two (a training job reports its stage)."""
    model = train_intents(spec, backend=get_settings().intent_backend)
    before_storing()
    return store.save(model, activate=activate)


def load_intents_file(path: Path, *, settings: Settings | None = None, activate: bool = True) -> str:
    """``relais intents load FILE``, inline: validate, merge with the built-ins, train, store, activate."""
    return train_and_store(load_deployment_spec(path), store=intent_store(settings or get_settings()),
                           activate=activate)
