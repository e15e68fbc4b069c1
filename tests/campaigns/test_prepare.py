"""Campaign preparation end to end on the real database: rows, consent, caps, quiet hours, A/B."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from campaigns import flows, tasks
from campaigns.links import Shortener
from campaigns.models import Campaign
from contacts.models import Contact
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Paris


def _start(campaign_id: int, now: datetime = NOW) -> int:
    with db.session_scope() as session:
        flows.start_run(session, session.get_one(Campaign, campaign_id), now=now)
    return tasks.prepare_campaign(campaign_id, now=now)


def test_prepare_queues_one_rendered_message_per_allowed_contact(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        contacts = [create_contact(session, i, first_name=f"Ana{i}") for i in range(12)]
        contacts[0].opted_out = True
        contacts[1].erased = True
        contacts[2].first_name = None
        capped = contacts[3]
        for _ in range(2):
            session.add(Message(contact_id=capped.id, direction="out", body="earlier promo", status="sent",
                                lane="marketing", created_at=NOW - timedelta(days=2)))
        template = create_template(session)
        campaign = create_campaign(session, template, frequency_cap=2, frequency_days=7)
        cid, ids = campaign.id, [c.id for c in contacts]
    queued = _start(cid)
    assert queued == 9
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.status == "running" and campaign.phase == "done" and campaign.prepared == 9
        assert campaign.skipped == {"opted_out": 1, "frequency_cap": 1}  # erased: never in a segment
        rows = session.scalars(select(Message).where(Message.campaign_id == cid).order_by(Message.contact_id)).all()
        assert {m.contact_id for m in rows} == set(ids[2:3] + ids[4:])
        assert all(m.status == "queued" and m.lane == "marketing" and m.direction == "out" for m in rows)
        no_name = rows[0]
        assert no_name.body.startswith("Bonjour , -20% http")
        assert no_name.body.endswith("\nRépondez STOP pour vous désinscrire")
        named = rows[1]
        assert named.body.startswith(f"Bonjour Ana4, -20% {Shortener.from_settings().base_url}/l/")
        code = named.body.split("/l/")[1].split()[0]
        assert Shortener.from_settings().parse(code)[1] == named.contact_id
        assert (named.encoding, named.segments) == ("GSM-7", 1)


def test_prepare_is_chunked_and_resumable(runtime: Settings) -> None:
    from campaigns.prepare import prepare_chunk

    with db.session_scope() as session:
        for i in range(7):
            create_contact(session, i)
        template = create_template(session, body="Promo {{ business_name }}")
        campaign = create_campaign(session, template)
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    results = []
    for _ in range(4):
        with db.session_scope() as session:
            results.append(prepare_chunk(session, session.get_one(Campaign, cid), now=NOW, chunk=3))
    assert [(r.done, r.queued) for r in results] == [(False, 3), (False, 3), (True, 1), (True, 0)]
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).where(Message.campaign_id == cid)) == 7


def test_quiet_hours_plan_the_send_time_on_the_row(runtime: Settings) -> None:
    from rq.registry import ScheduledJobRegistry

    from core.queue import get_queue

    late = datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 22:30 Paris, 16:30 New York
    with db.session_scope() as session:
        paris = create_contact(session, 1, timezone="Europe/Paris").id
        new_york = create_contact(session, 2, timezone="America/New_York", country="US", language="en").id
        template = create_template(session, body="Hello")
        campaign = create_campaign(session, template, quiet_start="21:00", quiet_end="08:00")
        cid = campaign.id
    assert _start(cid, late) == 2
    with db.session_scope() as session:
        planned = {c: (nb.replace(tzinfo=UTC), reason, detail) for c, nb, reason, detail in session.execute(
            select(Message.contact_id, Message.not_before, Message.wait_reason, Message.wait_detail)
            .where(Message.campaign_id == cid))}
    # Paris waits for 08:00 local the next morning, and says so; New York is inside its window
    assert planned[paris] == (datetime(2026, 6, 11, 6, 0, tzinfo=UTC), "quiet_hours",
                              "quiet hours until Thu 08:00 Europe/Paris")
    assert planned[new_york] == (late, "", "")
    queue = get_queue("marketing")
    scheduled = ScheduledJobRegistry(queue=queue)
    times = sorted(scheduled.get_scheduled_time(job_id) for job_id in scheduled.get_job_ids())
    assert times == [datetime(2026, 6, 11, 6, 0, tzinfo=UTC)]  # the wake-up call, at the planned time
    assert "workers.jobs.send.send_messages" in [job.func_name for job in queue.jobs]  # New York: now


def test_france_on_a_sunday_waits_for_monday_and_names_the_rule(runtime: Settings) -> None:
    sunday = datetime(2026, 11, 29, 4, 55, tzinfo=UTC)  # 05:55 in Paris, a Sunday
    with db.session_scope() as session:
        create_contact(session, 1, timezone="Europe/Paris")
        cid = create_campaign(session, create_template(session, body="Hello"), quiet_start="21:00",
                              quiet_end="08:00", respect_country_rules=True).id
    assert _start(cid, sunday) == 1
    with db.session_scope() as session:
        nb, reason, detail = session.execute(
            select(Message.not_before, Message.wait_reason, Message.wait_detail).where(Message.campaign_id == cid)
        ).one()
    assert nb.replace(tzinfo=UTC) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 Paris
    assert (reason, detail) == ("country_rule", "France: no Sunday sends, until Mon 08:00 Europe/Paris")


def test_overlapping_campaigns_respect_the_cap(runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(5):
            create_contact(session, i)
        template = create_template(session, body="A")
        first = create_campaign(session, template, frequency_cap=1)
        second = create_campaign(session, template, name="second", frequency_cap=1)
        ids = first.id, second.id
    assert _start(ids[0]) == 5
    assert _start(ids[1]) == 0
    with db.session_scope() as session:
        assert session.get_one(Campaign, ids[1]).skipped == {"frequency_cap": 5}
        per_contact = session.execute(select(Message.contact_id, func.count()).group_by(Message.contact_id)).all()
        assert all(n == 1 for _, n in per_contact)


def test_segment_rules_pick_the_recipients(runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(6):
            create_contact(session, i, language="en" if i % 2 else "fr")
        template = create_template(session, body="Hi")
        cid = create_campaign(session, template,
                              segment={"all": [{"field": "language", "op": "eq", "value": "en"}]}).id
    assert _start(cid) == 3
    with db.session_scope() as session:
        languages = session.scalars(select(Contact.language).join(Message, Message.contact_id == Contact.id)).all()
        assert set(languages) == {"en"}


def test_translations_and_media_follow_the_contact_language(runtime: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, language="fr")
        create_contact(session, 2, language="en", country="US", timezone="America/New_York")
        french = create_template(session, body="Nouvelle collection")
        english = create_template(session, body="New collection", language="en", name="en")
        cid = create_campaign(session, french, translations={"en": english.id},
                              media=[{"url": "https://cdn.example/a.jpg", "content_type": "image/jpeg"}]).id
    assert _start(cid) == 2
    with db.session_scope() as session:
        rows = {m.contact_id: m for m in session.scalars(select(Message).where(Message.campaign_id == cid))}
        bodies = sorted(m.body for m in rows.values())
        assert bodies == ["New collection\nReply STOP to opt out",
                          "Nouvelle collection\nRépondez STOP pour vous désinscrire"]
        assert all(m.media[0]["url"] == "https://cdn.example/a.jpg" and m.segments == 1 for m in rows.values())


def test_a_number_without_a_zone_is_planned_in_the_campaigns_zone(runtime: Settings) -> None:
    # an Australian mobile could be in any of eight zones: channels.timezones gives none, so the
    # campaign's own zone decides its quiet hours (not the alphabetically first, Adelaide)
    from contacts.consent import record_opt_in
    from contacts.service import get_or_create_by_phone

    late = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)  # 22:30 in Sydney (AEST, UTC+10)
    with db.session_scope() as session:
        contact, _ = get_or_create_by_phone(session, phone_e164="+61412345678", country="AU")
        assert contact.timezone is None
        record_opt_in(session, contact=contact, source="form", proof="test sign-up form")
        cid = create_campaign(session, create_template(session, body="Hello"), quiet_start="21:00",
                              quiet_end="08:00", timezone="Australia/Sydney").id
    assert _start(cid, late) == 1
    with db.session_scope() as session:
        nb, detail = session.execute(
            select(Message.not_before, Message.wait_detail).where(Message.campaign_id == cid)
        ).one()
    assert nb.replace(tzinfo=UTC) == datetime(2026, 6, 10, 22, 0, tzinfo=UTC)  # Thu 08:00 Sydney
    assert detail == "quiet hours until Thu 08:00 Australia/Sydney"


def test_the_cap_check_takes_a_whole_audience_at_once(runtime_any_db: Settings) -> None:
    """The planner's forecast checks a 100,000-contact audience in one call: more ids than one
    statement may bind (65,535 on PostgreSQL, 32,766 on SQLite) must still get an answer."""
    from campaigns.prepare import capped_contacts

    with db.session_scope() as session:
        texted = create_contact(session, 1)
        session.add(Message(contact_id=texted.id, direction="out", body="earlier promo", status="sent",
                            lane="marketing", created_at=NOW - timedelta(days=1)))
        campaign = create_campaign(session, create_template(session), frequency_cap=1, frequency_days=7)
        audience = [*range(10_000_000, 10_070_000), texted.id]
        assert capped_contacts(session, campaign, audience, NOW) == {texted.id}


def test_a_chunk_reads_its_contacts_with_the_same_statements_whatever_its_size(runtime_any_db: Settings) -> None:
    """On PostgreSQL the chunk's ids travel as one array: an IN list of 5,000 placeholders is rendered
    by SQLAlchemy and parsed by psycopg anew for every chunk. The INSERT of the rows is left out: it
    carries each row's values by nature."""
    from sqlalchemy import event

    from campaigns.prepare import prepare_chunk

    with db.session_scope() as session:
        for i in range(40):
            create_contact(session, i)
        template = create_template(session)
        cids = [create_campaign(session, template, name=f"c{n}", frequency_cap=0).id for n in range(2)]
    widest = []
    for cid, chunk in zip(cids, (10, 30), strict=True):
        seen = [0]

        def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if not statement.lstrip().upper().startswith("INSERT"):
                seen[0] = max(seen[0], len(parameters or ()))  # noqa: B023 - read right after this chunk

        event.listen(db.engine(), "before_cursor_execute", keep)
        try:
            with db.session_scope() as session:
                assert prepare_chunk(session, session.get_one(Campaign, cid), now=NOW, chunk=chunk).queued == chunk
        finally:
            event.remove(db.engine(), "before_cursor_execute", keep)
        widest.append(seen[0])
    if db.engine().dialect.name == "postgresql":
        assert widest[0] == widest[1], widest


def test_a_chunks_rows_are_one_insert_on_postgresql_with_the_tables_defaults(runtime_any_db: Settings) -> None:
    """The rows hold what the Core INSERT wrote (each its own text, the table's defaults for the
    columns preparation leaves out) and the send jobs carry every row's id: on PostgreSQL they go as
    one statement for the chunk, not one execution per row."""
    from sqlalchemy import event

    from core.queue import get_queue

    with db.session_scope() as session:
        names = {create_contact(session, i, first_name=f"Ana{i}").id: f"Ana{i}" for i in range(30)}
        cid = create_campaign(session, create_template(session), frequency_cap=0).id
    inserts: list[int] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
            inserts.append(len(parameters) if many else 1)

    event.listen(db.engine(), "before_cursor_execute", keep)
    try:
        assert _start(cid) == 30
    finally:
        event.remove(db.engine(), "before_cursor_execute", keep)
    assert inserts == ([1] if db.engine().dialect.name == "postgresql" else [30])
    with db.session_scope() as session:
        rows = session.scalars(select(Message).where(Message.campaign_id == cid)).all()
        assert {m.contact_id for m in rows} == set(names)
        for m in rows:
            assert m.body.startswith(f"Bonjour {names[m.contact_id]}, -20% ")
            assert (m.idempotency_key, m.created_at, m.not_before, m.media, m.analysis) == (
                f"campaign:{cid}:1:{m.contact_id}", NOW, NOW, [], {})
            assert (m.provider, m.provider_message_id, m.attempts, m.override_opt_out, m.error_code, m.claim_token,
                    m.price_micros, m.sent_at, m.conversation_id, m.wait_reason) == (
                "simulator", None, 0, False, "", "", None, None, None, "")  # fmt: skip
        jobs = get_queue("marketing").jobs
        woken = [i for job in jobs if job.func_name == "workers.jobs.send.send_messages" for i in job.args[0]]
        assert sorted(woken) == sorted(m.id for m in rows)
