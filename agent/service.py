"""Agent services over the database and the loaded runtime: analysis for people (API, CLI), a
conversation's recent turns, and intent model training (inline for the CLI; the API queues
:mod:`agent.intent_jobs`).

Acting on a decision (sending, opting out, escalating) is ``agent.effects``, called for each
received message by ``agent.inbound``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import and_, func, or_, select
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


def histories_for(session: Session, messages: Sequence[Message],
                  limit: int = HISTORY_TURNS) -> list[tuple[Turn, ...]]:
    """The ``limit`` messages before each of ``messages`` in its conversation, oldest first, read in
    one statement for all of them (the inbound batch's round).

    Raises:
        ValueError: two of ``messages`` are in one conversation (a batch's round never holds two).
    """
    threads = [m.conversation_id for m in messages if m.conversation_id is not None]
    if len(set(threads)) != len(threads):
        raise ValueError("histories_for takes at most one message per conversation")
    if not threads:
        return [() for _ in messages]
    before = [and_(Message.conversation_id == m.conversation_id, Message.id < m.id)
              for m in messages if m.conversation_id is not None]
    rank = func.row_number().over(partition_by=Message.conversation_id, order_by=Message.id.desc())
    earlier = (
        select(Message.id, Message.conversation_id, Message.author_type, Message.body, rank.label("rank"))
        .where(or_(*before))
        .subquery()
    )
    turns: dict[int, list[Turn]] = {}
    for row in session.execute(
        select(earlier.c.conversation_id, earlier.c.author_type, earlier.c.body)
        .where(earlier.c.rank <= limit)
        .order_by(earlier.c.conversation_id, earlier.c.id)
    ):
        turns.setdefault(row.conversation_id, []).append(
            Turn(role=_ROLES.get(row.author_type, "system"), text=row.body or ""))
    return [tuple(turns.get(m.conversation_id, ())) if m.conversation_id is not None else () for m in messages]


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
