"""Learned per-contact frequency caps: learned from a contact's history, applied by the authority on opt-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import fatigue, flows, tasks
from campaigns.models import Campaign
from contacts.models import EngagementEvent
from conversations.models import Message
from core import db
from core.settings import Settings
from delivery.authority import enforce, may_send
from tests.campaigns.factories import create_campaign, create_contact, create_template

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
START = NOW - timedelta(days=60)
#: four weekly texts, each answered; then five on consecutive days (1..5 per week), only the second answered
SENDS = [START + timedelta(days=d) for d in (0, 7, 14, 21, 28, 29, 30, 31, 32)]
ENGAGED = [START + timedelta(days=d, hours=6) for d in (0, 7, 14, 21, 29)]


def test_the_cap_is_the_highest_frequency_still_answered() -> None:
    learned = fatigue.learn(SENDS, ENGAGED, window=WEEK)
    assert (learned.cap, learned.sends, learned.engaged) == (2, 9, 6)  # day 28's text is answered on day 29 too
    assert "ignored 3 texts" in learned.reason


def test_no_cap_without_evidence_of_fatigue() -> None:
    assert fatigue.learn(SENDS[:7], ENGAGED, window=WEEK).cap is None  # too little history
    assert "fewer than" in fatigue.learn(SENDS[:7], ENGAGED, window=WEEK).reason
    assert fatigue.learn(SENDS, [], window=WEEK).reason.startswith("never engaged")
    answered_late = [*ENGAGED, START + timedelta(days=32, hours=1)]  # engaged at the highest frequency tried
    assert fatigue.learn(SENDS, answered_late, window=WEEK).cap is None
    two_ignored = [*ENGAGED, START + timedelta(days=30, hours=1)]  # only two ignored above 3 a week: not enough
    assert fatigue.learn(SENDS, two_ignored, window=WEEK).cap is None


def _history(session: Session, contact_id: int, sends: list[datetime], engaged: list[datetime]) -> None:
    for at in sends:
        session.add(Message(contact_id=contact_id, direction="out", body="old", status="delivered", lane="marketing",
                            author_type="campaign", created_at=at, sent_at=at))
    for at in engaged:
        session.add(EngagementEvent(contact_id=contact_id, kind="clicked", at=at))


def test_the_authority_applies_the_learned_cap_only_on_opt_in(runtime: Settings) -> None:
    with db.session_scope() as session:
        tired, fresh, thin = (create_contact(session, n) for n in range(3))
        recent = [NOW - timedelta(days=2), NOW - timedelta(days=1)]  # 2 texts this week: at the learned cap
        shift = NOW - timedelta(days=10) - SENDS[-1]  # the learning history ends 10 days ago
        _history(session, tired.id, [*(at + shift for at in SENDS), *recent], [at + shift for at in ENGAGED])
        _history(session, fresh.id, recent, [])  # too little history: no learned cap
        _history(session, thin.id, recent[:1], [])
        campaign = create_campaign(session, create_template(session, body="Promo"), frequency_cap=3)
        flows.start_run(session, campaign, now=NOW)
        campaign_id, tired_id = campaign.id, tired.id
        caps = fatigue.learned_caps(session, [tired.id, fresh.id, thin.id], window_days=7, now=NOW)
        assert caps == {tired.id: 2}
    tasks.prepare_campaign(campaign_id, now=NOW)
    with db.session_scope() as session:
        rows = list(session.scalars(select(Message).where(Message.campaign_id == campaign_id)))
        assert len(rows) == 3  # preparation keeps the campaign cap; the authority decides at claim
        campaign = session.get_one(Campaign, campaign_id)
        for learned in (False, True):
            campaign.learned_cap = learned
            verdicts = may_send(session, rows, now=NOW)
            refused = {r.contact_id: verdicts[r.id].detail for r in rows if verdicts[r.id].action == "reject"}
            assert refused == ({tired_id: "learned frequency cap: 2 in 7 days"} if learned else {})
        assert fatigue.report(session, campaign, now=NOW)["refused"] == 0
        enforce(session, rows, now=NOW)  # the claim-time check closes the refused text
        summary = fatigue.report(session, campaign, now=NOW)
        assert summary == {"recipients": 3, "with_learned_cap": 1, "refused": 1,
                           "note": "1 of 3 recipients have a learned cap"}


def test_the_report_says_when_no_history_shows_fatigue(runtime: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1)
        campaign = create_campaign(session, create_template(session, body="Promo"), learned_cap=True)
        flows.start_run(session, campaign, now=NOW)
        campaign_id = campaign.id
    tasks.prepare_campaign(campaign_id, now=NOW)
    with db.session_scope() as session:
        summary = fatigue.report(session, session.get_one(Campaign, campaign_id), now=NOW)
        assert (summary["recipients"], summary["with_learned_cap"]) == (1, 0)
        assert summary["note"].startswith("no recipient's history shows fatigue yet")
