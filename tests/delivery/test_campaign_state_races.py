"""A pause or a cancel committed while a background step works on the campaign stands.

The preparation job and the campaigns sweep read a campaign, work (a chunk of 5,000 contacts takes
seconds), then move it on (``preparing`` → ``running``, ``scheduled`` → ``preparing``, ``running`` →
``completed``). The API's pause and cancel lock the row; those steps did not, and their write put the
campaign back to ``running`` or ``preparing``: the authority, which asks the campaign's status, then
let its messages go. Each test interleaves the two transactions in the order SQLite allows too (the
background step's read, the person's committed change, the step's writes and commit), then sends with
the real engine to the fake Vonage.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from campaigns import flows, service, tasks
from campaigns.models import Campaign
from campaigns.prepare import prepare_chunk
from conversations.models import Message
from core import db
from core.queue import get_queue
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine, started_campaign

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Paris


def _by_person(cid: int, action: str) -> None:
    """The API's pause or cancel (the row locked), committed."""
    with db.session_scope() as session:
        campaign = service.get_campaign(session, cid, lock=True)
        service.pause(session, campaign) if action == "pause" else service.cancel(session, campaign)


def _prepare_last_chunk_while(cid: int, action: str) -> list[int]:
    """The preparation job's transaction for the campaign's only (so last) chunk, with ``action``
    committed by a person after the job read the campaign; returns the messages the chunk queued."""
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.status == "preparing"  # what tasks.prepare_campaign checks before the chunk
        _by_person(cid, action)
        result = prepare_chunk(session, campaign, now=NOW)
        assert result.done
        flows.finish_phase(session, campaign, now=NOW)
    with db.session_scope() as session:
        return list(session.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)))


def _sent(fake: FakeVonage) -> Counter[str]:
    return Counter(r.form["client-ref"] for r in fake.requests)


def _state(cid: int) -> tuple[str, str]:
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        return campaign.status, campaign.phase


def test_a_pause_committed_while_the_last_chunk_is_prepared_stands_and_nothing_goes_until_resumed(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    cid = started_campaign(3, NOW)
    ids = _prepare_last_chunk_while(cid, "pause")
    assert len(ids) == 3
    # the chunk's own progress is kept; the person's pause is not overwritten by "running"
    assert _state(cid) == ("paused", "done")
    now = [NOW]
    engine = make_engine(fake, runtime_any_db, clock=lambda: now[0])
    try:
        assert engine.send_batch(ids).waiting == 3  # the chunk's wake-up job: the authority holds them
        assert _sent(fake) == Counter()
        with db.session_scope() as session:
            assert set(session.scalars(select(Message.wait_reason).where(Message.id.in_(ids)))) == {"paused"}
            campaign = service.resume(session, service.get_campaign(session, cid, lock=True))
            now[0] = NOW + timedelta(minutes=5)
            flows.resume_work(session, campaign, now=now[0])
        assert _state(cid) == ("running", "done")
        assert engine.send_batch(ids).sent == 3
    finally:
        engine.close()
    assert _sent(fake) == {f"relais-{i}": 1 for i in ids}


def test_a_cancel_committed_while_the_last_chunk_is_prepared_stands_and_its_texts_never_go(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    cid = started_campaign(3, NOW)
    ids = _prepare_last_chunk_while(cid, "cancel")
    assert _state(cid)[0] == "cancelled"
    engine = make_engine(fake, runtime_any_db, clock=lambda: NOW)
    try:
        assert engine.send_batch(ids).rejected == 3  # queued by the chunk after the cancel: closed at the claim
    finally:
        engine.close()
    assert _sent(fake) == Counter()
    with db.session_scope() as session:
        assert set(session.scalars(select(Message.error_code).where(Message.id.in_(ids)))) == {"campaign_cancelled"}


def test_a_scheduled_campaign_paused_while_the_sweep_starts_it_is_not_started(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, timezone="Europe/Paris")
        campaign = create_campaign(session, create_template(session, body="Promo"))
        campaign.status, campaign.next_run_at = "scheduled", NOW
        cid = campaign.id
    with db.session_scope() as session:  # the sweep's transaction
        [due] = session.scalars(select(Campaign).where(Campaign.status == "scheduled", Campaign.next_run_at <= NOW))
        _by_person(cid, "pause")
        flows.start_run(session, due, now=NOW)
        assert due.status == "paused"
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert (campaign.status, campaign.run, campaign.phase) == ("paused", 0, "")
    assert [j.id for j in get_queue("marketing").jobs if (j.func_name or "").endswith("prepare_campaign")] == []
    assert tasks.prepare_campaign(cid, now=NOW) == 0
    with db.session_scope() as session:  # resumed: scheduled again, and the sweep starts it
        service.resume(session, service.get_campaign(session, cid, lock=True))
    tasks.sweep(now=NOW + timedelta(minutes=1))
    assert _state(cid) == ("preparing", "main")


def test_a_recurring_campaign_paused_while_the_sweep_completes_its_run_stays_paused(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, timezone="Europe/Paris")
        campaign = create_campaign(session, create_template(session, body="Weekly"), recurrence="0 10 * * 3",
                                   timezone="Europe/Paris")
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == cid).values(status="delivered"))
    with db.session_scope() as session:  # the sweep's transaction
        [done] = session.scalars(select(Campaign).where(Campaign.status == "running", Campaign.phase == "done"))
        _by_person(cid, "pause")
        assert not flows.check_completion(session, done, now=NOW + timedelta(minutes=5))
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        # not completed, and above all not scheduled for next Wednesday behind the person's back
        assert (campaign.status, campaign.next_run_at, campaign.completed_at) == ("paused", None, None)
