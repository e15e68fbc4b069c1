"""Agent services over the database and the loaded runtime: analysis for people (API, CLI), a
conversation's recent turns, the per-conversation lock, and intent model training.

Acting on a decision (sending, opting out, escalating) is the inbound job's work
(``workers.jobs.inbound``): the agent package decides, it does not reach into handoff or contacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.lock import Lock
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.context import Role, Turn
from agent.intent import IntentModelStore, load_deployment_spec, merge_with_builtins, parse_spec, train_intents
from agent.intent.spec import IntentSpec
from agent.pipeline import Analysis
from agent.runtime import DEFAULT_KB, get_runtime, intent_store
from conversations.models import Message
from core.redis import get_redis
from core.settings import Settings, get_settings

#: Earlier messages of the conversation given to the pipeline.
HISTORY_TURNS = 10

#: A lock is released by Redis after this long even if its holder died mid-job.
LOCK_TTL_SECONDS = 120

#: How long a job waits for another job (or an agent action) on the same conversation.
LOCK_WAIT_SECONDS = 60

_ROLES: dict[str, Role] = {"customer": "customer", "bot": "bot", "agent": "agent"}


class ConversationBusy(RuntimeError):
    """The conversation's lock stayed taken; the job fails and RQ retries it."""


def conversation_lock_name(conversation_id: int) -> str:
    return f"relais:lock:conversation:{conversation_id}"


@contextmanager
def conversation_lock(conversation_id: int, *, wait: float = LOCK_WAIT_SECONDS,
                      ttl: float = LOCK_TTL_SECONDS) -> Iterator[Lock]:
    """Hold the conversation's Redis lock, so two texts a second apart never race.

    Raises :class:`ConversationBusy` when it cannot be taken within ``wait`` seconds.
    """
    lock = get_redis(get_settings()).lock(conversation_lock_name(conversation_id), timeout=ttl,
                                         blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise ConversationBusy(f"conversation {conversation_id} is busy")
    try:
        yield lock
    finally:
        if lock.owned():
            lock.release()


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


def train_and_store(spec: IntentSpec, *, store: IntentModelStore, activate: bool = True) -> str:
    """Train ``spec`` (already merged with the built-in intents) and store it; returns the version."""
    return store.save(train_intents(spec, backend=get_settings().intent_backend), activate=activate)


def load_intents_file(path: Path, *, settings: Settings | None = None, activate: bool = True) -> str:
    """``relais intents load FILE``: validate, merge with the built-ins, train, store, activate."""
    return train_and_store(load_deployment_spec(path), store=intent_store(settings or get_settings()),
                           activate=activate)


def load_intents_data(data: object, *, source: str, settings: Settings | None = None, activate: bool = True) -> str:
    """Like :func:`load_intents_file` from already-parsed YAML (the intents API upload)."""
    spec = merge_with_builtins(parse_spec(data, source=source))
    return train_and_store(spec, store=intent_store(settings or get_settings()), activate=activate)
