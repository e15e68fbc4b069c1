"""A/B tests: stable assignment, winner by metric, the rest of the segment gets the winner."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from campaigns import abtest, flows, tasks
from campaigns.models import Campaign, CampaignLink, LinkClick
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def test_assignment_is_stable_and_follows_weights() -> None:
    arms = [{"name": "A", "weight": 80}, {"name": "B", "weight": 20}]
    picks = Counter(abtest.assign_arm(arms, 7, contact)["name"] for contact in range(5000))
    assert 0.77 < picks["A"] / 5000 < 0.83
    assert abtest.assign_arm(arms, 7, 42) == abtest.assign_arm(arms, 7, 42)
    ab = {"test_fraction": 0.25}
    share = sum(abtest.in_test_group(ab, 3, c) for c in range(5000)) / 5000
    assert 0.22 < share < 0.28


def test_pick_winner_by_rate_then_sample() -> None:
    results = [abtest.ArmResult("A", 100, 5), abtest.ArmResult("B", 50, 5), abtest.ArmResult("C", 200, 20)]
    assert abtest.pick_winner(results).name == "C"  # B and C both 10%: the larger sample wins
    assert abtest.pick_winner([abtest.ArmResult("A", 10, 1), abtest.ArmResult("B", 20, 2)]).name == "B"


def test_winner_after_test_phase_goes_to_the_rest(runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(60):
            create_contact(session, i)
        a = create_template(session, body="Version A https://shop.example/a")
        b = create_template(session, body="Version B https://shop.example/b", name="b")
        campaign = create_campaign(session, a, ab={
            "arms": [{"name": "A", "template_id": a.id, "weight": 1}, {"name": "B", "template_id": b.id, "weight": 1}],
            "test_fraction": 0.5, "metric": "clicks", "winner_after_hours": 2})
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    tested = tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.phase == "ab_wait" and campaign.skipped["holdout"] == 60 - tested
        rows = session.execute(select(Message.contact_id, Message.analysis, Message.body)
                               .where(Message.campaign_id == cid)).all()
        arms = {contact: analysis["ab_arm"] for contact, analysis, _ in rows}
        assert set(arms.values()) == {"A", "B"}
        assert all(body.startswith(f"Version {analysis['ab_arm']}") for _, analysis, body in rows)
        b_link = session.scalar(select(CampaignLink.id).where(CampaignLink.url == "https://shop.example/b"))
        for contact, arm in arms.items():
            if arm == "B":
                session.add(LinkClick(link_id=b_link, campaign_id=cid, contact_id=contact))
    tasks.sweep(now=NOW + timedelta(hours=1))  # too early to decide
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).ab_winner == ""
    tasks.sweep(now=NOW + timedelta(hours=2, minutes=1))
    tasks.prepare_campaign(cid, now=NOW + timedelta(hours=2, minutes=1))
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.ab_winner == "B" and campaign.phase == "done"
        rest = session.execute(select(Message.contact_id, Message.body).where(
            Message.campaign_id == cid, Message.contact_id.not_in(list(arms)))).all()
        assert len(rest) == 60 - tested and all(body.startswith("Version B") for _, body in rest)
        contacts = list(session.scalars(select(Message.contact_id).where(Message.campaign_id == cid)))
        assert len(contacts) == len(set(contacts)) == 60  # everyone exactly once


def _test_group_run(cid: int, at: datetime, clicked_arm: str, clickers: int) -> dict[int, str]:
    """Prepare a run's test group at ``at``; ``clickers`` contacts of ``clicked_arm`` click an hour later."""
    tasks.prepare_campaign(cid, now=at)
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        rows = session.execute(select(Message.contact_id, Message.analysis).where(
            Message.campaign_id == cid, Message.idempotency_key.like(f"campaign:{cid}:{campaign.run}:%"))).all()
        arms = {contact: analysis["ab_arm"] for contact, analysis in rows}
        url = f"https://shop.example/{clicked_arm.lower()}"
        link = session.scalar(select(CampaignLink.id).where(CampaignLink.url == url))
        clicked_at = at + timedelta(hours=1)
        for contact in sorted(c for c, arm in arms.items() if arm == clicked_arm)[:clickers]:
            session.add(LinkClick(link_id=link, campaign_id=cid, contact_id=contact, clicked_at=clicked_at))
    return arms


def test_a_recurring_ab_test_picks_each_runs_winner_from_that_run(runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(40):
            create_contact(session, i, timezone="UTC")
        a = create_template(session, body="Version A https://shop.example/a")
        b = create_template(session, body="Version B https://shop.example/b", name="b")
        campaign = create_campaign(session, a, recurrence="0 10 * * 3", timezone="Europe/Paris", ab={
            "arms": [{"name": "A", "template_id": a.id, "weight": 1}, {"name": "B", "template_id": b.id, "weight": 1}],
            "test_fraction": 0.5, "metric": "clicks", "winner_after_hours": 2})
        campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", NOW, NOW
        cid = campaign.id
    tasks.sweep(now=NOW)
    _test_group_run(cid, NOW, "B", clickers=40)  # run 1: every recipient of B clicks
    decided = NOW + timedelta(hours=2, minutes=1)
    tasks.sweep(now=decided)
    tasks.prepare_campaign(cid, now=decided)
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).ab_winner == "B"
        session.execute(update(Message).where(Message.campaign_id == cid).values(status="delivered"))
    tasks.sweep(now=decided + timedelta(minutes=5))  # run 1 completes
    second = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)  # next Wednesday 10:00 in Paris
    tasks.sweep(now=second)
    _test_group_run(cid, second, "A", clickers=2)  # run 2: two of A's recipients click, none of B's
    tasks.sweep(now=second + timedelta(hours=2, minutes=1))
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.run == 2
        # counting run 1 too, last week's clicks on B would outweigh this week's two on A
        assert campaign.ab_winner == "A"
