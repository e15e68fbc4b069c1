"""Live console events stay within their deployment's Redis database."""

from __future__ import annotations

import time

import redis

from core import db
from core.redis import get_redis
from core.settings import Settings
from handoff import events


def test_an_event_is_heard_on_its_own_database_only(runtime: Settings) -> None:
    """Redis pub/sub ignores the database number: a deployment on another database of the same server
    (or a parallel test run) heard these events, and its agents were pushed this deployment's conversations."""
    client = get_redis(runtime)
    kwargs = client.connection_pool.connection_kwargs
    address = {key: kwargs[key] for key in ("host", "port", "path") if key in kwargs}
    neighbour = redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=client.connection_pool.connection_class, db=(kwargs.get("db", 0) + 1) % 16, **address))
    ours, theirs = client.pubsub(ignore_subscribe_messages=True), neighbour.pubsub(ignore_subscribe_messages=True)
    ours.subscribe(events.channel(client))
    theirs.subscribe(events.channel(neighbour))
    try:
        with db.session_scope() as session:
            events.publish_after_commit(session, "conversation.escalated", conversation_id=7)
        heard = None
        deadline = time.monotonic() + 5
        while heard is None and time.monotonic() < deadline:
            heard = ours.get_message(timeout=0.1)
        assert heard is not None and b'"conversation_id": 7' in heard["data"]
        assert theirs.get_message(timeout=0.5) is None
    finally:
        ours.close()
        theirs.close()
        neighbour.close()
