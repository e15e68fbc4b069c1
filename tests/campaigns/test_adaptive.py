"""Adaptive campaigns: the bandit splits each batch, the control keeps its share, the stopping rule commits."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from campaigns import adaptive, adaptive_report, flows, service, tasks
from campaigns.models import Campaign, CampaignAllocation, CampaignLink, LinkClick
from campaigns.schemas import CampaignIn
from contacts.models import Order
from conversations.models import Message
from core import db
from core.settings import Settings
from delivery.authority import may_send
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def adaptive_campaign(contacts: int, *, arms: int = 3, **options: Any) -> int:
    with db.session_scope() as session:
        for i in range(contacts):
            create_contact(session, i)
        templates = [create_template(session, body=f"Version {n} https://shop.example/{n}", name=n)
                     for n in "ABC"[:arms]]
        ab = {"mode": "adaptive", "arms": [{"name": t.name, "template_id": t.id} for t in templates],
              "batch_size": 60, "batch_minutes": 60, **options}
        campaign = create_campaign(session, templates[0], ab=ab, frequency_cap=0)
        flows.start_run(session, campaign, now=NOW)
        return campaign.id


def _click(campaign_id: int, rates: dict[str, float], rng: np.random.Generator, seen: set[int]) -> None:
    """Simulated outcomes: each new recipient of arm X clicks with probability rates[X]."""
    with db.session_scope() as session:
        link = session.scalar(select(CampaignLink.id).where(CampaignLink.campaign_id == campaign_id))
        for contact_id, analysis in session.execute(
                select(Message.contact_id, Message.analysis).where(Message.campaign_id == campaign_id)):
            if contact_id not in seen:
                seen.add(contact_id)
                if rng.random() < rates[analysis["ab_arm"]]:
                    session.add(LinkClick(link_id=link, campaign_id=campaign_id, contact_id=contact_id))


def run_adaptive(campaign_id: int, rates: dict[str, float]) -> datetime:
    """Prepare batch after batch (a sweep each hour) until the audience is done; returns the last moment."""
    rng, seen, moment = np.random.default_rng(7), set[int](), NOW
    for _ in range(40):
        tasks.prepare_campaign(campaign_id, now=moment)
        with db.session_scope() as session:  # each batch's texts go before their recipients click them
            session.execute(update(Message).where(Message.campaign_id == campaign_id, Message.status == "queued")
                            .values(status="delivered"))
        _click(campaign_id, rates, rng, seen)
        with db.session_scope() as session:
            if session.get_one(Campaign, campaign_id).phase == "done":
                return moment
        moment += timedelta(minutes=61)
        tasks.sweep(now=moment)
    raise AssertionError("the campaign never finished")


def test_allocation_shifts_to_the_best_arm_and_stops(runtime: Settings) -> None:
    cid = adaptive_campaign(900)
    run_adaptive(cid, {"A": 0.08, "B": 0.22, "C": 0.14})
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        rows = adaptive.history(session, campaign)
        assert campaign.ab_winner == "B"
        stop = next(r for r in rows if r.stopped)
        assert stop.stopped == "probability" and stop.batch > 1  # it took some evidence
        best = next(a for a in stop.arms if a["name"] == "B")
        assert best["p_best"] >= 0.95
        share = [next(a["count"] for a in r.arms if a["name"] == "B") / sum(a["count"] for a in r.arms[1:])
                 for r in rows]
        assert share[0] < 0.5 < share[stop.batch - 2]  # the batch before the stop already leaned on B
        after = [r for r in rows if r.batch >= stop.batch]
        assert all(a["count"] == 0 for r in after for a in r.arms[1:] if a["name"] != "B")
        for row in rows:  # the control keeps exactly its share of every batch, its members recorded
            size = sum(a["count"] for a in row.arms)
            assert row.arms[0]["count"] == round(size * 0.1) == len(row.control_ids)
        control = {c for r in rows for c in r.control_ids}
        sent = list(session.scalars(select(Message.contact_id).where(Message.campaign_id == cid)))
        assert len(sent) == len(set(sent)) and not control & set(sent)
        assert len(sent) + len(control) == 900  # everyone exactly once: a message or the control
        assert campaign.skipped["control"] == len(control)
        section = adaptive_report.section(session, campaign)
        assert section is not None and section["winner"] == "B" and "probability" in section["why"]
        assert [b["batch"] for b in section["batches"]] == [r.batch for r in rows]
        assert section["arms"]["B"]["low"] < section["arms"]["B"]["rate"] < section["arms"]["B"]["high"]


def test_max_duration_commits_to_the_most_probably_best(runtime: Settings) -> None:
    cid = adaptive_campaign(300, arms=2, max_hours=2)
    run_adaptive(cid, {"A": 0.1, "B": 0.1})
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        rows = adaptive.history(session, campaign)
        stop = next(r for r in rows if r.stopped)
        assert stop.stopped == "max_duration" and campaign.ab_winner in ("A", "B") and stop.batch == 3
        assert "2 h passed" in adaptive_report.section(session, campaign)["why"]  # type: ignore[index]


def test_batches_are_idempotent_when_a_job_is_retried(runtime: Settings) -> None:
    cid = adaptive_campaign(120)
    with db.session_scope() as session:  # a job that died before its commit: the redo makes the same split
        campaign = session.get_one(Campaign, cid)
        first = adaptive.allocate(session, campaign, list(range(1, 61)), now=NOW)
        session.rollback()
        campaign = session.get_one(Campaign, cid)
        assert adaptive.allocate(session, campaign, list(range(1, 61)), now=NOW) == first
        session.rollback()
    queued = tasks.prepare_campaign(cid, now=NOW)
    assert tasks.prepare_campaign(cid, now=NOW) == 0  # the batch is done: a retried job does nothing
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).phase == "batch_wait"
        assert len(list(session.scalars(select(CampaignAllocation.id)))) == 1
        assert queued + session.get_one(Campaign, cid).skipped["control"] == 60
    later = NOW + timedelta(minutes=61)
    tasks.sweep(now=later)
    tasks.sweep(now=later)  # a second sweep finds nothing due (the campaign is preparing)
    from core.queue import rq_job_id
    from core.redis import get_redis
    from core.settings import get_settings

    with db.session_scope() as session:
        cursor = session.get_one(Campaign, cid).cursor
    keys = [k.decode() for k in get_redis(get_settings()).keys("rq:job:*")]
    assert sum(rq_job_id(f"campaign-prepare:{cid}:1:main:{cursor}") in k for k in keys) == 1


def test_the_authority_is_still_asked_at_claim(runtime: Settings) -> None:
    cid = adaptive_campaign(60, arms=2)
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        rows = list(session.scalars(select(Message).where(Message.campaign_id == cid)))
        assert rows and all(v.action == "go" for v in may_send(session, rows, now=NOW).values())
        service.pause(session, session.get_one(Campaign, cid))
        assert all(v.action == "wait" and v.code == "paused" for v in may_send(session, rows, now=NOW).values())


@pytest.mark.usefixtures("runtime_any_db")
def test_allocation_store_and_lift_over_control() -> None:
    cid = adaptive_campaign(100, arms=2, control_share=0.2, batch_size=100)
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        [row] = adaptive.history(session, campaign)
        assert row.arms[0] == {"name": "control", "count": 20, "sends": 0, "successes": None, "p_best": None}
        assert [a["p_best"] for a in row.arms[1:]] == [0.5, 0.5] or sum(a["p_best"] for a in row.arms[1:]) == 1
        control = row.control_ids
        treated = list(session.scalars(select(Message.contact_id).where(Message.campaign_id == cid)))
        buyers = [*control[:5], *treated[:40], *treated[40:42]]  # 5/20 control, 40/80 treated in the window
        for n, contact_id in enumerate(buyers):
            late = n >= 45  # the last two bought after the attribution window
            session.add(Order(contact_id=contact_id, source="api", external_id=f"o{n}", status="paid",
                              ordered_at=NOW + timedelta(days=4 if late else 1)))
        session.add(Order(contact_id=control[5], source="api", external_id="before", status="paid",
                          ordered_at=NOW - timedelta(hours=1)))  # before the campaign: not counted
    with db.session_scope() as session:
        section = adaptive_report.section(session, session.get_one(Campaign, cid))
        assert section is not None
        purchases, lift = section["purchases"], section["lift"]["all variants"]
        assert purchases["control"]["rate"] == 0.25 and purchases["all variants"]["rate"] == 0.5
        (l1, u1), (l2, u2) = adaptive_report.wilson(40, 80), adaptive_report.wilson(5, 20)  # type: ignore[misc]
        assert (l1, u1) == pytest.approx((0.3930, 0.6070), abs=1e-4)  # Wilson 40/80, by hand
        assert lift["lift"] == pytest.approx(0.25) and lift["low"] == pytest.approx(0.25 - ((0.5 - l1) ** 2
                                                                                           + (u2 - 0.25) ** 2) ** 0.5)
        assert lift["high"] == pytest.approx(0.25 + ((u1 - 0.5) ** 2 + (0.25 - l2) ** 2) ** 0.5)
        assert section["why"] == ("still testing; 80 messages still wait to be sent, so the rates below are not final")
        assert section["winner"] == ""


def _weekly_run(cid: int, start: datetime, *, clicking: str, control_buys: bool) -> None:
    """One run of a weekly adaptive campaign from ``start``: one batch, every message delivered, the
    recipients of arm ``clicking`` click within the hour, the treated buy the next day unless
    ``control_buys``, then only the control does; the run completes."""
    tasks.sweep(now=start)
    tasks.prepare_campaign(cid, now=start)
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        run = list(session.execute(select(Message.id, Message.contact_id, Message.analysis).where(
            Message.campaign_id == cid, Message.idempotency_key.like(f"campaign:{cid}:{campaign.run}:%"))))
        session.execute(update(Message).where(Message.id.in_([m for m, _, _ in run])).values(status="delivered"))
        link = session.scalar(select(CampaignLink.id).where(CampaignLink.campaign_id == cid))
        for _, contact_id, analysis in run:
            if analysis["ab_arm"] == clicking:
                session.add(LinkClick(link_id=link, campaign_id=cid, contact_id=contact_id,
                                      clicked_at=start + timedelta(minutes=30)))
        [batch] = adaptive.history(session, campaign)
        buyers = batch.control_ids if control_buys else [c for _, c, _ in run]
        for contact_id in buyers:
            session.add(Order(contact_id=contact_id, source="api", external_id=f"{start:%d}-{contact_id}",
                              status="paid", ordered_at=start + timedelta(days=1)))
    for later in (61, 62, 63):  # the next batch finds nobody left, the run finishes and completes
        tasks.sweep(now=start + timedelta(minutes=later))
        tasks.prepare_campaign(cid, now=start + timedelta(minutes=later))


def test_a_recurring_campaigns_section_shows_the_current_run_only(app_client: TestClient, runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(50):
            create_contact(session, i, timezone="UTC")
        a, b = (create_template(session, body=f"Version {n} https://shop.example/{n}", name=n) for n in "AB")
        ab = {"mode": "adaptive", "arms": [{"name": t.name, "template_id": t.id} for t in (a, b)],
              "batch_size": 50, "batch_minutes": 60, "control_share": 0.2}
        campaign = create_campaign(session, a, ab=ab, frequency_cap=0, recurrence="0 10 * * 3",
                                   timezone="Europe/Paris")
        campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", NOW, NOW
        cid = campaign.id
    _weekly_run(cid, NOW, clicking="A", control_buys=False)  # run 1: A clicked, the treated bought
    second = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)  # next Wednesday 10:00 in Paris
    _weekly_run(cid, second, clicking="B", control_buys=True)  # run 2: B clicked, only the control bought
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.run == 2
        section = adaptive_report.section(session, campaign)
        assert section is not None and section["run"] == 2
        [batch] = section["batches"]
        assert batch["at"] == second.isoformat()
        sent = {arm: sum(1 for (a,) in session.execute(select(Message.analysis["ab_arm"].as_string()).where(
            Message.campaign_id == cid, Message.idempotency_key.like(f"campaign:{cid}:2:%"))) if a == arm)
            for arm in "AB"}
        assert sent == {arm: batch["counts"][arm] for arm in "AB"} and sum(sent.values()) == 40
        arms = section["arms"]  # run 2's messages and clicks: A's recipients of run 1 clicked, not counted
        assert (arms["A"]["n"], arms["A"]["successes"]) == (sent["A"], 0)
        assert (arms["B"]["n"], arms["B"]["successes"]) == (sent["B"], sent["B"])
        purchases = section["purchases"]  # run 1's treated bought, run 2's did not; run 2's control did
        assert (purchases["control"]["n"], purchases["control"]["successes"]) == (10, 10)
        assert (purchases["all variants"]["n"], purchases["all variants"]["successes"]) == (40, 0)
        assert section["lift"]["all variants"]["lift"] == -1.0
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    html = app_client.get(f"/console/campaigns/{cid}", headers={"Accept": "text/html"}).text
    assert '<h3 id="adaptive-title">Adaptive test, send 2</h3>' in html and "earlier sends are not counted" in html
    rows = html.split('<table id="allocation" class="stacked">')[1].split("</table>")[0]
    # in the campaign's zone, as every other time on the page (the batches alone were in UTC: 08:00)
    assert rows.count("<tr data-batch=") == 1 and ">2026-06-17 10:00</td>" in rows
    assert "Prepared (Europe/Paris)" in html.split('<table id="allocation" class="stacked">')[1]


def test_adaptive_settings_are_validated_and_stored_with_defaults() -> None:
    base = {"name": "x", "template_id": 1}
    arms = [{"name": "A", "template_id": 1}, {"name": "B", "template_id": 2}]
    stored = CampaignIn(**base, ab={"mode": "adaptive", "arms": arms}).ab
    assert stored["control_share"] == 0.1 and stored["threshold"] == 0.95 and stored["metric"] == "clicks"
    for bad in ({"mode": "adaptive", "arms": arms[:1]},
                {"mode": "adaptive", "arms": [*arms, {"name": "control", "template_id": 3}]},
                {"mode": "adaptive", "arms": arms, "control_share": 0.9},
                {"mode": "adaptive", "arms": arms, "surprise": 1},
                {"mode": "bandit", "arms": arms}):
        with pytest.raises(ValidationError):
            CampaignIn(**base, ab=bad)
    assert adaptive_report.wilson(0, 0) is None and adaptive_report.difference((1, 2), (0, 0)) is None


def test_report_shows_allocation_rates_and_lift(app_client: TestClient, runtime: Settings) -> None:
    cid = adaptive_campaign(300, arms=2, max_hours=2)
    run_adaptive(cid, {"A": 0.05, "B": 0.2})
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    html = app_client.get(f"/console/campaigns/{cid}", headers={"Accept": "text/html"}).text
    assert '<table id="allocation" class="stacked">' in html and '<svg id="chart-allocation-1" class="chart"' in html
    rows = html.split('<table id="allocation" class="stacked">')[1].split("</table>")[0].count("<tr data-batch=")
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert rows == len(adaptive.history(session, campaign))
        why = adaptive_report.section(session, campaign)["why"]  # type: ignore[index]
    assert why[1:] in html and "Held out as the adaptive test" in html
    control = html.split('<tr data-group="control">')[1].split("</tr>")[0]
    assert control.count(">—</td>") == 5  # no metric, no lift for the control itself
    everyone = html.split('<tr data-group="all variants">')[1].split("</tr>")[0]
    # no purchase anywhere: 0, interval not 0-0
    assert '"Purchase rate">0.0\u00a0%</td>' in everyone and '"95 % interval">-' in everyone


def test_api_creates_an_adaptive_campaign_and_reports_it(app_client: TestClient, runtime: Settings) -> None:
    with db.session_scope() as session:
        a, b = (create_template(session, body=f"Offer {n}", name=n) for n in "AB")
        arms = [{"name": "A", "template_id": a.id}, {"name": "B", "template_id": b.id}]
    headers = auth_headers("marketer")
    created = app_client.post("/api/v1/campaigns", headers=headers, json={
        "name": "adaptive", "template_id": arms[0]["template_id"], "ab": {"mode": "adaptive", "arms": arms}})
    assert created.status_code == 201, created.text
    assert created.json()["ab"]["control_share"] == 0.1
    report = app_client.get(f"/api/v1/campaigns/{created.json()['id']}/report", headers=headers).json()
    assert report["adaptive"]["batches"] == [] and report["adaptive"]["why"] == "still testing"
    refused = app_client.post("/api/v1/campaigns", headers=headers, json={
        "name": "bad", "template_id": arms[0]["template_id"], "ab": {"mode": "adaptive", "arms": arms[:1]}})
    assert refused.status_code == 422


def test_the_wizard_saves_and_reopens_an_adaptive_draft(app_client: TestClient, runtime: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1)
        a, b = (create_template(session, body=f"Offer {n}", name=n) for n in "AB")
        templates = [str(a.id), str(b.id)]
    _, secret = create_console_user("mia@example.com", role="marketer")
    headers = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "mia@example.com", secret)}
    form = {"draft_id": "", "name": "Adaptive sale", "segment": "", "frequency_cap": "3", "frequency_days": "7",
            "mode": "adaptive", "template_id": "", "arm_template": templates, "arm_weight": ["50", "50"],
            "metric": "clicks", "control_percent": "15", "batch_size": "200", "batch_minutes": "30",
            "max_hours": "24", "when": "now", "timezone": "Europe/Paris", "quiet_end": "00:00",
            "quiet_start": "23:59", "throttle_per_minute": "0", "learned_cap": "on"}
    review = app_client.post("/console/campaigns/wizard/review", data={**form, "control_percent": "80"},
                             headers=headers)
    assert review.status_code == 200 and "enter at most 50" in review.text
    saved = app_client.post("/console/campaigns/wizard/save", data=form, headers=headers)
    assert saved.status_code == 204, saved.text  # HX-Redirect to the saved draft
    with db.session_scope() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.name == "Adaptive sale")).one()
        assert campaign.ab["mode"] == "adaptive" and campaign.ab["control_share"] == 0.15
        assert (campaign.ab["batch_size"], campaign.ab["batch_minutes"], campaign.ab["max_hours"]) == (200, 30, 24)
        assert [arm["template_id"] for arm in campaign.ab["arms"]] == [int(t) for t in templates]
        assert campaign.learned_cap
        cid = campaign.id
    page = app_client.get(f"/console/campaigns/{cid}/edit")
    assert 'id="learned_cap" checked' in page.text
    assert 'id="mode-adaptive" checked' in page.text and 'id="control_percent" name="control_percent"' in page.text
    assert 'value="15"' in page.text.split('id="control_percent"')[1].split(">")[0]


def test_the_cost_estimate_leaves_the_control_out(runtime: Settings) -> None:
    from campaigns.preview import estimate, segment_price

    with db.session_scope() as session:
        for i in range(10):
            create_contact(session, i)
        short = create_template(session, body="Offre courte", name="A")
        long = create_template(session, body="Offre longue " + "x" * 170, name="B")  # two segments
        campaign = create_campaign(session, short, ab={
            "mode": "adaptive", "control_share": 0.2,
            "arms": [{"name": "A", "template_id": short.id}, {"name": "B", "template_id": long.id}]})
        review = estimate(session, campaign, start=NOW, now=NOW)
        price = segment_price(session).micros
        assert review.audience.sendable == 10
        assert (review.cost_low_micros, review.cost_high_micros) == (8 * price, 8 * 2 * price)


def test_a_variant_whose_messages_wait_has_no_rate_yet(runtime: Settings) -> None:
    """With the best-time option, a batch's texts wait for each recipient's hour: the report read "Sent 3, click
    rate 0.0 % (0.0 % – 56.2 %)" for texts not sent, the bandit counting prepared messages."""
    cid = adaptive_campaign(100, arms=2, control_share=0.0)
    tasks.prepare_campaign(cid, now=NOW)  # batch 1: 60 messages, queued (nothing sends them here)
    with db.session_scope() as session:
        section = adaptive_report.section(session, session.get_one(Campaign, cid))
        assert section is not None
        arms = section["arms"]
        assert [arms[n]["n"] for n in "AB"] == [0, 0] and sum(arms[n]["waiting"] for n in "AB") == 60
        assert arms["A"]["rate"] is None
        assert section["why"] == "still testing; 60 messages still wait to be sent, so the rates below are not final"
        first = session.scalars(select(Message.id).where(Message.campaign_id == cid,
                                                         Message.analysis["ab_arm"].as_string() == "A")).all()
        session.execute(update(Message).where(Message.id.in_(first[:5])).values(status="delivered"))
    with db.session_scope() as session:
        arms = adaptive_report.section(session, session.get_one(Campaign, cid))["arms"]  # type: ignore[index]
        waiting_a = len(first) - 5
        assert (arms["A"]["n"], arms["A"]["waiting"], arms["A"]["rate"]) == (5, waiting_a, 0.0)
        assert arms["B"]["n"] == 0


def test_the_report_says_a_variant_is_not_sent_yet(app_client: TestClient) -> None:
    cid = adaptive_campaign(100, arms=2, control_share=0.0)
    tasks.prepare_campaign(cid, now=NOW)
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    html = app_client.get(f"/console/campaigns/{cid}", headers={"Accept": "text/html"}).text
    row = html.split('<tr data-group="A">', 1)[1].split("</tr>", 1)[0]
    assert " waiting)</td>" in row and '<td data-label="Click rate">not sent yet</td>' in row
    assert "Per variant: click rate," in html and "Clicks rate" not in html
    assert "The next batch is split " in html and "60 minutes after the last text already planned goes" in html


def test_with_best_send_time_a_batch_is_split_only_after_the_earlier_batches_texts_went(runtime: Settings) -> None:
    """Adaptive + "send at each contact's best time": batch 1's texts waited for the next day's best hour while the
    sweep split batch 2 an hour later on 0 sends, so the bandit learnt nothing between batches. Now the step that
    allocates waits until the earlier batches' texts have gone, then ``batch_minutes`` for their results."""
    with db.session_scope() as session:
        for i in range(120):
            create_contact(session, i)
        templates = [create_template(session, body=f"Version {n} https://shop.example/{n}", name=n) for n in "AB"]
        ab = {"mode": "adaptive", "arms": [{"name": t.name, "template_id": t.id} for t in templates],
              "batch_size": 60, "batch_minutes": 60}
        # the window opens tomorrow 09:00 Paris time: every text of batch 1 waits for it
        campaign = create_campaign(session, templates[0], ab=ab, frequency_cap=0,
                                   send_time={"start": "2026-06-11T09:00", "end": "2026-06-12T20:00", "holdout": 0.0})
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        last = max(m.not_before for m in session.scalars(select(Message).where(Message.campaign_id == cid)))
        last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
        assert last > NOW + timedelta(hours=12)
        decide = campaign.ab_decide_at.replace(tzinfo=UTC)  # type: ignore[union-attr]
        assert campaign.phase == "batch_wait" and decide == last + timedelta(minutes=60)
        # the report says when the next batch is split, not a bare "still testing"
        assert adaptive_report.section(session, campaign)["next_batch_at"] == decide.isoformat()  # type: ignore[index]
    hour = NOW + timedelta(minutes=61)
    tasks.sweep(now=hour)  # an hour on: nothing is due yet
    tasks.prepare_campaign(cid, now=hour)  # and a preparation job that runs anyway (a resume, a lost job) waits
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert len(adaptive.history(session, campaign)) == 1 and campaign.phase == "batch_wait"
        session.execute(update(Message).where(Message.campaign_id == cid).values(status="delivered"))
    tasks.sweep(now=decide)
    tasks.prepare_campaign(cid, now=decide)
    with db.session_scope() as session:
        rows = adaptive.history(session, session.get_one(Campaign, cid))
        assert len(rows) == 2 and sum(a["sends"] for a in rows[1].arms[1:]) > 0  # batch 2 saw batch 1's sends


def test_an_adaptive_test_past_its_max_hours_stops_waiting_for_unsent_texts(runtime: Settings) -> None:
    cid = adaptive_campaign(120, arms=2, max_hours=2)
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:  # batch 1's texts held until the next morning (a window, a best hour)
        session.execute(update(Message).where(Message.campaign_id == cid).values(not_before=NOW + timedelta(hours=20)))
        campaign = session.get_one(Campaign, cid)
        assert adaptive.next_batch_at(session, campaign, NOW) == NOW + timedelta(hours=2)  # max_hours, not 21 h
    tasks.sweep(now=NOW + timedelta(hours=2))
    tasks.prepare_campaign(cid, now=NOW + timedelta(hours=2))
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.ab_winner and len(adaptive.history(session, campaign)) == 2


def test_the_wizard_says_an_adaptive_test_at_best_times_waits_for_each_batch(app_client: TestClient,
                                                                              runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(30):
            create_contact(session, i)
        templates = [str(create_template(session, body=f"Offer {n}", name=n).id) for n in "AB"]
    _, secret = create_console_user("mia@example.com", role="marketer")
    headers = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "mia@example.com", secret)}
    form = {"draft_id": "", "name": "Adaptive at best times", "segment": "", "frequency_cap": "3",
            "frequency_days": "7", "mode": "adaptive", "template_id": "", "arm_template": templates,
            "arm_weight": ["50", "50"], "metric": "clicks", "control_percent": "10", "batch_size": "20",
            "batch_minutes": "60", "max_hours": "72", "when": "now", "timezone": "Europe/Paris", "quiet_end": "08:00",
            "quiet_start": "21:00", "throttle_per_minute": "0", "best_time": "on",
            "best_start": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT09:00"),
            "best_end": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT20:00"), "best_holdout": "0"}
    review = app_client.post("/console/campaigns/wizard/review", data=form, headers=headers)
    assert review.status_code == 200
    text = html.unescape(" ".join(review.text.split()))
    assert ("the bandit splits each batch only after the texts of the batch before went at their recipients' best "
            "hours, then waits 60 minutes for their results") in text
    # batch 2 is planned an hour after batch 1's best hours, not an hour after the start
    assert "the last batch is prepared" in text and "(Europe/Paris) at the latest" in text
