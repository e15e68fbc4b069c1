"""Live console events: published on Redis after commit, streamed to browsers by the console.

Redis pub/sub (not an in-process bus) so every API replica's console stream sees every event,
whichever process or worker produced it.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from core.db import after_commit
from core.redis import get_redis
from core.settings import get_settings


def channel(client: Redis) -> str:
    """The console events' channel for ``client``'s database.

    Redis pub/sub ignores the database number: deployments sharing one server on different databases
    (staging and production, or parallel test runs) heard each other's events on one channel name, so
    an agent's console and web push showed another deployment's conversations. The name carries the
    database."""
    return f"relais:console:events:{client.connection_pool.connection_kwargs.get('db', 0)}"


def publish_after_commit(session: Session, kind: str, **data: Any) -> None:
    """Announce ``kind`` (e.g. ``conversation.escalated``) once the change is committed."""
    payload = json.dumps({"kind": kind, **data}, default=str)

    def publish() -> None:
        client = get_redis(get_settings())
        client.publish(channel(client), payload)

    after_commit(session, publish)
