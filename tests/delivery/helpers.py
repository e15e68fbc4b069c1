"""Helpers of the delivery tests: engines sending to the fake Vonage server, campaigns of Paris contacts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from campaigns import flows, tasks
from campaigns import service as campaign_service
from campaigns.models import Campaign
from channels.senders import create_sender, set_account_rate
from channels.vonage import VonageChannel, VonageConfig
from conversations.models import Message
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery.engine import DeliveryEngine
from delivery.policy import RetryPolicy
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage

KEY, SECRET = "abcd1234", "s3cr3t-api"


def make_engine(
    fake: FakeVonage,
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> DeliveryEngine:
    """A real engine (Vonage SDK, real Redis limiter and journal) sending to ``fake``."""
    channel = VonageChannel(VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host))
    return DeliveryEngine(channel=channel, client=get_redis(settings), concurrency=8, retry=retry, clock=clock)


def started_campaign(count: int, now: datetime, **fields: object) -> int:
    """A campaign of ``count`` Paris contacts whose run started at ``now`` (``preparing``, nothing prepared yet)."""
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
        for i in range(count):
            create_contact(session, i, timezone="Europe/Paris")
        campaign = create_campaign(session, create_template(session, body="Promo"), **fields)
        flows.start_run(session, campaign, now=now)
        return campaign.id


def prepared_campaign(count: int, now: datetime, **fields: object) -> tuple[int, list[int]]:
    """:func:`started_campaign`, prepared at ``now``; (campaign id, message ids)."""
    cid = started_campaign(count, now, **fields)
    assert tasks.prepare_campaign(cid, now=now) == count
    with db.session_scope() as session:
        return cid, list(session.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)))


def pause_and_resume(cid: int, at: datetime) -> None:
    """A person pauses the campaign, then resumes it at ``at`` (its queued texts re-planned from then)."""
    with db.session_scope() as session:
        campaign_service.pause(session, session.get_one(Campaign, cid))
    with db.session_scope() as session:
        campaign = campaign_service.resume(session, session.get_one(Campaign, cid))
        flows.resume_work(session, campaign, now=at)
