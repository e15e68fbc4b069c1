"""Recovery after an outage: a claim whose worker is gone is settled within minutes, not after the
600 s lease; claims of a registered worker, claims naming no worker and young claims are left alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from conversations import flows
from conversations.models import Message
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery, store
from tests.campaigns.factories import create_contact


def _queued(count: int) -> list[int]:
    with db.session_scope() as session:
        ids = []
        for i in range(count):
            message = flows.queue_outbound(
                session, contact=create_contact(session, i), body=f"Code {i}", lane="transactional", author_type="api"
            )
            ids.append(message.id)
    return ids


def test_claims_of_a_worker_that_is_gone_are_released_before_the_lease(runtime_any_db: Settings) -> None:
    client = get_redis(runtime_any_db)
    gone, live, unnamed, young = _queued(4)
    now = utcnow()
    claimed_at = now - timedelta(seconds=recovery.OWNER_GRACE_SECONDS + 60)  # far inside the 600 s lease
    with db.session_scope() as session:
        store.claim(session, [gone], now=claimed_at, owner="wgone0000000")  # died with the outage
        store.claim(session, [live], now=claimed_at, owner="wlive0000000")  # still sending, registered
        store.claim(session, [unnamed], now=claimed_at)  # a thread worker names none: lease only
        store.claim(session, [young], now=now - timedelta(seconds=30), owner="wgone0000000")
    client.hset("rq:worker:wlive0000000", "last_heartbeat", "now")
    found = recovery.recover(client, now=now)
    assert (found.requeued, found.adopted, found.reenqueued) == (1, 0, 1)  # released and sent again now
    with db.session_scope() as session:
        rows = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_([gone, live, unnamed, young])))}
        assert {i: m.status for i, m in rows.items()} == {
            gone: "queued", live: "sending", unnamed: "sending", young: "sending"
        }
        assert store.owner_of(rows[live].claim_token) == "wlive0000000" and rows[gone].claim_token == ""
