"""A campaign report's replies and opt-outs: the recipients with a reply / opt-out after their message.

The report is built when a run's last message is sent, before autovacuum has analysed the campaign's
rows: on PostgreSQL, statistics still describing an empty table once planned "every row created after
this message" through the time index for each recipient, and a 30,000-recipient report ran over 100 s
while the completing sweep held the campaign's row and both workers. One (contact, time) index per
table answers each probe by itself (migration 0017); this test plans on such statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from campaigns import reporting
from contacts.models import ConsentEvent
from conversations.models import Message
from core import db
from core.schema import load_models
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import skip_unless_ci

SENT = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
RECIPIENTS = 20_000
_INSERT = (
    "INSERT INTO messages (contact_id, direction, campaign_id, created_at, body, media, sender, provider, status, lane,"
    " author_type, author_id, encoding, segments, attempts, error_code, error_reason, analysis, claim_token,"
    " wait_reason, wait_detail, override_opt_out) SELECT 1000000 + g, 'out', :campaign, :sent + g * interval '10 ms',"
    " 'x', '[]', '', 'vonage', 'delivered', 'marketing', 'campaign', '', 'GSM-7', 1, 0, '', '', '{}', '', '', '',"
    f" false FROM generate_series(1, {RECIPIENTS}) g"
)


def _message(contact_id: int, direction: str, at: datetime, campaign_id: int | None) -> Message:
    return Message(contact_id=contact_id, direction=direction, body="x", status="delivered" if campaign_id else
                   "received", lane="marketing" if campaign_id else "conversational",
                   author_type="campaign" if campaign_id else "contact", campaign_id=campaign_id, created_at=at)


def _opt(contact_id: int, action: str, at: datetime) -> ConsentEvent:
    return ConsentEvent(contact_id=contact_id, action=action, source="keyword", at=at)


def _campaign_with_answers(session: Session) -> int:
    """A completed campaign to six contacts, two of whom replied after it and one opted out after it (around
    them: a reply before it, one past the attribution window, an opt-out before it and an opt-in after it)."""
    contacts = [create_contact(session, n, opted_in=False).id for n in range(6)]
    campaign = create_campaign(session, create_template(session))
    campaign.completed_at = SENT
    session.add_all(_message(c, "out", SENT, campaign.id) for c in contacts)
    session.add_all([_message(contacts[0], "in", SENT - timedelta(hours=1), None),
                     _message(contacts[1], "in", SENT + timedelta(minutes=5), None),
                     _message(contacts[2], "in", SENT + timedelta(hours=2), None),
                     _message(contacts[2], "in", SENT + timedelta(hours=3), None),
                     _message(contacts[3], "in", SENT + timedelta(days=reporting.ATTRIBUTION_DAYS + 1), None),
                     _opt(contacts[4], "opt_out", SENT + timedelta(hours=1)),
                     _opt(contacts[5], "opt_out", SENT - timedelta(days=1)),
                     _opt(contacts[5], "opt_in", SENT + timedelta(hours=1))])
    session.flush()
    return campaign.id


def test_replies_and_opt_outs_count_after_the_message_within_the_window(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        report = reporting.summary(session, _campaign_with_answers(session))
    assert (report["messages"], report["replies"], report["opt_outs"]) == (6, 2, 1)


@pytest.fixture
def never_analysed(runtime: Settings, postgres_url: str | None) -> Iterator[Engine]:
    """A PostgreSQL database made for the test: its tables never analysed, as a new deployment's or a bench's."""
    if postgres_url is None:
        skip_unless_ci("PostgreSQL is not reachable on 127.0.0.1:5432 and RELAIS_TEST_DATABASE_URL is unset")
    url = make_url(postgres_url)
    name = f"{url.database}_never_analysed"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(url.set(database=name))
    load_models().create_all(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_large_campaigns_report_does_not_wait_for_statistics(never_analysed: Engine) -> None:
    """20,000 recipients more, in the same transaction (autovacuum cannot have analysed them): with contact and
    time indexed apart, the plan probed the time index for each recipient and ran for minutes."""
    with Session(never_analysed) as session:
        campaign_id = _campaign_with_answers(session)
        session.execute(text("SET LOCAL session_replication_role = replica"))  # the extra recipients' contacts
        session.execute(text(_INSERT), {"campaign": campaign_id, "sent": SENT})
        session.execute(text("SET LOCAL statement_timeout = '10s'"))
        report = reporting.summary(session, campaign_id)
        session.rollback()
    assert (report["messages"], report["replies"], report["opt_outs"]) == (6 + RECIPIENTS, 2, 1)
