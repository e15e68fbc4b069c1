"""Live console events: published on Redis after commit, streamed to browsers by the console.

Redis pub/sub (not an in-process bus) so every API replica's console stream sees every event,
whichever process or worker produced it. Here in ``core`` (``handoff.events`` re-exports it) so
``delivery`` can announce the status of conversation messages too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from core.db import after_commit
from core.redis import get_redis
from core.settings import get_settings

_STATUSES = "relais:live:message-statuses"  # session.info: (publish callback, {message id: (conversation, status)})


def channel(client: Redis) -> str:
    """The console events' channel for ``client``'s database.

    Redis pub/sub ignores the database number: deployments sharing one server on different databases
    (staging and production, or parallel test runs) heard each other's events on one channel name, so
    an agent's console and web push showed another deployment's conversations. The name carries the
    database."""
    return f"relais:console:events:{client.connection_pool.connection_kwargs.get('db', 0)}"


def _publisher(payload: str) -> Callable[[], None]:
    def publish() -> None:
        client = get_redis(get_settings())
        client.publish(channel(client), payload)

    return publish


def publish_after_commit(session: Session, kind: str, **data: Any) -> None:
    """Announce ``kind`` (e.g. ``conversation.escalated``) once the change is committed."""
    after_commit(session, _publisher(json.dumps({"kind": kind, **data}, default=str)))


def statuses_after_commit(session: Session, changes: Iterable[tuple[int, int, str]]) -> None:
    """Announce new statuses of conversation messages, ``(message id, conversation id, status)``, once committed.

    One ``message.status`` event per transaction however many messages changed in it (a send batch, a
    batch of delivery reports): ``{"messages": [{"id", "conversation_id", "status"}...], "conversation_ids":
    [...]}``, the last status of each message. Callers pass conversation messages only: a campaign's never
    reach here, so its sends cost no publish (the console has nothing to show for them).
    """
    items = list(changes)
    if not items:
        return
    pending: tuple[Callable[[], None], dict[int, tuple[int, str]]] | None = session.info.get(_STATUSES)
    if pending is None or pending[0] not in session.info.get("after_commit", ()):  # none yet, or rolled back
        latest: dict[int, tuple[int, str]] = {}

        def publish() -> None:
            session.info.pop(_STATUSES, None)
            messages = [{"id": i, "conversation_id": c, "status": s} for i, (c, s) in sorted(latest.items())]
            conversations = sorted({c for c, _ in latest.values()})
            _publisher(json.dumps({"kind": "message.status", "messages": messages,
                                   "conversation_ids": conversations}))()  # fmt: skip

        after_commit(session, publish)
        pending = session.info[_STATUSES] = (publish, latest)
    for message_id, conversation_id, status in items:
        pending[1][message_id] = (conversation_id, status)
