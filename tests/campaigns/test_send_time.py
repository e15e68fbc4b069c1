"""Best send time with a random-time holdout: planning into the window, the holdout, recovery, the report.

A controlled clock throughout: preparation, recovery and the delivery authority are each run at
chosen instants (Wednesday 2026-12-02; the window is Thursday 09:00 to Friday 20:00, Paris time,
where France allows marketing texts 08:00-20:00).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import flows, send_time, tasks
from campaigns.models import Campaign, CampaignLink, Conversion, LinkClick
from campaigns.report_export import to_csv
from campaigns.reporting import campaign_report
from contacts.models import Order, OrderLine
from conversations.models import Message
from core import db
from core.redis import get_redis
from core.settings import Settings
from delivery import authority, recovery
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers

PARIS = ZoneInfo("Europe/Paris")
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
WINDOW = {"start": "2026-12-03T09:00", "end": "2026-12-04T20:00"}
OPEN = [(datetime(2026, 12, 3, 9, 0, tzinfo=PARIS), datetime(2026, 12, 3, 20, 0, tzinfo=PARIS)),
        (datetime(2026, 12, 4, 8, 0, tzinfo=PARIS), datetime(2026, 12, 4, 20, 0, tzinfo=PARIS))]
RULES = {"quiet_start": "21:00", "quiet_end": "08:00", "respect_country_rules": True}


def _inside(at: datetime) -> bool:
    return any(start <= at < end for start, end in OPEN)


def _predict(session: Session, hours: dict[int, tuple[int, int, bool]], *, single_hour: bool = False) -> None:
    """Store best_hour predictions (contact -> (hour, weekday, personal)) as the scoring job does."""
    model = store.register_version(session, kind="best_hour", version="test", params={"single_hour": single_hour},
                                   metrics={"validation": {"hour_hit_pm1": 0.31, "one_best_hour": 0.35}})
    store.write_predictions(session, model, [
        store.Score(cid, float(h), {"hour": h, "day": d, "timezone": "Europe/Paris", "personal": p})
        for cid, (h, d, p) in hours.items()])


def _prepare(campaign_id: int, now: datetime = WEDNESDAY) -> int:
    with db.session_scope() as session:
        flows.start_run(session, session.get_one(Campaign, campaign_id), now=now)
    return tasks.prepare_campaign(campaign_id, now=now)


def _messages(campaign_id: int) -> list[Message]:
    with db.session_scope() as session:
        rows = list(session.scalars(select(Message).where(Message.campaign_id == campaign_id)
                                    .order_by(Message.contact_id)))
        session.expunge_all()
    return rows


def _at(row: Message) -> datetime:
    assert row.not_before is not None
    return row.not_before.replace(tzinfo=UTC) if row.not_before.tzinfo is None else row.not_before


def test_best_times_fall_in_the_window_and_never_in_quiet_hours_even_for_a_night_owl(
    runtime_any_db: Settings,
) -> None:
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(40)]
        evening = {c.id: (19, 4, True) for c in contacts[:20]}  # 19:00, Fridays
        night = {c.id: (3, 3, True) for c in contacts[20:39]}  # 03:00: never allowed
        _predict(session, evening | night)
        campaign = create_campaign(session, create_template(session), **RULES,
                                   send_time={**WINDOW, "holdout": 0.2})
        cid, unknown = campaign.id, contacts[39].id
    assert _prepare(cid) == 40
    rows = _messages(cid)
    for row in rows:
        at = _at(row).astimezone(PARIS)
        assert _inside(at), (row.contact_id, at)
        group, reason = row.analysis["send_time"], row.analysis["send_time_reason"]
        assert group == (send_time.RANDOM if send_time.in_holdout(cid, row.contact_id, 0.2) else send_time.BEST)
        assert row.wait_reason == "scheduled" and row.wait_detail.startswith(reason)
        if group == send_time.RANDOM:
            assert reason == "holdout: random time"
        elif row.contact_id in evening:
            assert (at.weekday(), at.hour, at.minute) == (4, 19, 0)  # Friday 19:00: hour and weekday
            assert reason == "best time: 19:00 from the contact's own orders"
        elif row.contact_id in night:
            assert (at.weekday(), at.hour, at.minute) == (4, 8, 0)  # the open hour nearest 03:00: Fri 08:00
            # not "best time: 03:00 … (Fri 08:00)", which read as a contradiction
            assert reason == "best time: 03:00 from the contact's own orders, outside the window: its nearest open time"
        else:
            assert row.contact_id == unknown and at == OPEN[0][0]  # no orders anywhere: the first opening
    with db.session_scope() as session:  # the authority, asked at each planned time, lets every one go
        live = list(session.scalars(select(Message).where(Message.campaign_id == cid)))
        for row in live:
            assert authority.may_send(session, [row], now=_at(row))[row.id].action == "go"
            before = _at(row) - timedelta(minutes=30)
            if before.astimezone(PARIS).hour < 8:  # a stray early claim of the 08:00 sends: quiet hours hold it
                assert authority.may_send(session, [row], now=before)[row.id].code == "quiet_hours"


def test_the_holdout_share_is_respected_and_deterministic() -> None:
    ids = range(1, 20001)
    first = [i for i in ids if send_time.in_holdout(7, i, 0.1)]
    assert abs(len(first) / 20000 - 0.1) < 0.006  # binomial sd 0.2 %: three sd
    assert first == [i for i in ids if send_time.in_holdout(7, i, 0.1)]
    other = {i for i in ids if send_time.in_holdout(8, i, 0.1)}
    assert len(other & set(first)) < 0.2 * len(first)  # another campaign draws another holdout
    assert not any(send_time.in_holdout(7, i, 0.0) for i in ids)
    assert abs(sum(send_time.in_holdout(7, i, 0.3) for i in ids) / 20000 - 0.3) < 0.01


def test_random_times_cover_the_open_window_uniformly() -> None:
    start, end = datetime(2026, 12, 3, 8, 0, tzinfo=UTC), datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    intervals = [(start, datetime(2026, 12, 3, 10, 0, tzinfo=UTC)), (datetime(2026, 12, 3, 17, 0, tzinfo=UTC), end)]
    picks = [send_time.random_moment(intervals, 1, i) for i in range(3000)]
    assert picks == [send_time.random_moment(intervals, 1, i) for i in range(3000)]
    assert all(p is not None and any(a <= p < b for a, b in intervals) for p in picks)
    share_first = sum(1 for p in picks if p is not None and p < intervals[0][1]) / len(picks)
    assert abs(share_first - 0.5) < 0.05  # two hours each: half and half
    assert send_time.random_moment([], 1, 1) is None


def test_recovery_past_the_lease_keeps_the_planned_time(runtime: Settings) -> None:
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(6)]
        _predict(session, {c.id: (19, 4, True) for c in contacts})
        campaign = create_campaign(session, create_template(session), **RULES, send_time={**WINDOW, "holdout": 0.0})
        cid = campaign.id
    _prepare(cid)
    planned = [(r.id, _at(r), r.wait_reason, r.wait_detail) for r in _messages(cid)]
    friday_seven = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert {p[1] for p in planned} == {friday_seven}
    later = WEDNESDAY + timedelta(seconds=recovery.LEASE_SECONDS + 3600)
    found = recovery.recover(get_redis(runtime), now=later)
    assert (found.reenqueued, found.held) == (0, 0)  # planned for Friday: no orphan on Wednesday
    assert [(r.id, _at(r), r.wait_reason, r.wait_detail) for r in _messages(cid)] == planned
    found = recovery.recover(get_redis(runtime), now=friday_seven + timedelta(seconds=recovery.LEASE_SECONDS + 60))
    assert found.reenqueued == 6  # the wake-up job was lost: due now, inside the window, it goes


def test_without_predictions_the_segment_best_hour_from_orders(runtime: Settings) -> None:
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(32)]
        for n, contact in enumerate(contacts):  # everyone orders at 17:xx UTC (18:xx in Paris)
            order = Order(contact_id=contact.id, source="import", external_id=f"o{n}",
                          ordered_at=datetime(2026, 11, 2 + n % 20, 17, n % 50), total_micros=10_000_000)
            session.add(order)
            session.flush()
            session.add(OrderLine(order_id=order.id, product_id="p", quantity=1, unit_price_micros=10_000_000))
        campaign = create_campaign(session, create_template(session), **RULES, send_time={**WINDOW, "holdout": 0.0})
        cid = campaign.id
    _prepare(cid)
    rows = _messages(cid)
    assert {(_at(r).astimezone(PARIS).weekday(), _at(r).astimezone(PARIS).hour) for r in rows} <= {(3, 18), (4, 18)}
    assert {r.analysis["send_time_reason"] for r in rows} == {"best time: 18:00 from the segment's orders"}


def synthetic_outcomes(session: Session, campaign: Campaign, seed: int, n_best: int, n_random: int,
                        p_best: float, p_random: float) -> dict[str, tuple[int, int]]:
    """Delivered messages in each group, clicks and conversions drawn with the given rates."""
    rng = random.Random(seed)
    link = CampaignLink(campaign_id=campaign.id, url="https://shop.example")
    session.add(link)
    session.flush()
    drawn: dict[str, tuple[int, int]] = {}
    k = 0
    for group, n, p in ((send_time.BEST, n_best, p_best), (send_time.RANDOM, n_random, p_random)):
        clicks = conversions = 0
        for _ in range(n):
            k += 1
            contact = create_contact(session, 5000 + k, opted_in=False)
            session.add(Message(contact_id=contact.id, campaign_id=campaign.id, direction="out", body="x",
                                status="delivered", lane="marketing", analysis={"send_time": group},
                                created_at=WEDNESDAY, sent_at=WEDNESDAY))
            if rng.random() < p:
                clicks += 1
                session.add(LinkClick(link_id=link.id, campaign_id=campaign.id, contact_id=contact.id))
                if rng.random() < 0.5:
                    conversions += 1
                    session.add(Conversion(campaign_id=campaign.id, contact_id=contact.id, reference=f"r{k}"))
        drawn[group] = (clicks, conversions)
    session.flush()
    return drawn


def test_report_lift_and_interval_on_a_seeded_synthetic_outcome(runtime: Settings) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), send_time=WINDOW)
        drawn = synthetic_outcomes(session, campaign, 14, 500, 300, 0.30, 0.18)
        report = campaign_report(session, campaign)
        assert "send time best_time,unique_clicks" in to_csv(report)
    section = report["send_time"]
    (c1, v1), (c2, v2) = drawn[send_time.BEST], drawn[send_time.RANDOM]
    assert section["groups"][send_time.BEST]["unique_clicks"] == c1
    assert section["groups"][send_time.RANDOM]["conversions"] == v2
    click = section["lift"]["click"]
    p1, p2 = c1 / 500, c2 / 300
    se = (p1 * (1 - p1) / 500 + p2 * (1 - p2) / 300) ** 0.5
    assert click["difference"] == pytest.approx(p1 - p2, abs=1e-4)
    assert click["low"] == pytest.approx(p1 - p2 - 1.96 * se, abs=1e-3)
    assert click["high"] == pytest.approx(p1 - p2 + 1.96 * se, abs=1e-3)
    assert click["low"] < 0.12 < click["high"]  # the true lift lies inside
    assert click["low"] > 0 and "a real gain" in click["sentence"]
    conversion = section["lift"]["conversion"]
    assert conversion["best_rate"] == pytest.approx(v1 / 500, abs=1e-4)
    assert section["model"]["version"] is None and "No send-time model" in section["model"]["note"]


def test_lift_is_na_for_small_groups_and_within_noise_for_equal_rates(runtime: Settings) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), send_time=WINDOW)
        synthetic_outcomes(session, campaign, 3, 200, 20, 0.2, 0.2)
        lift = campaign_report(session, campaign)["send_time"]["lift"]["click"]
    assert lift["difference"] is None and lift["low"] is None and "fewer than 30" in lift["sentence"]
    same = send_time.lift("click", (40, 200), (41, 200))
    assert same.low is not None and same.low < 0 < (same.high or 0) and "within noise" in same.sentence
    assert send_time.lift("click", (0, 200), (0, 200)).difference is None


def test_api_takes_the_option_refuses_unknown_fields_and_plans(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(10)]
        _predict(session, {c.id: (19, 4, False) for c in contacts}, single_hour=True)
        template_id = create_template(session).id
    body = {"name": "best", "template_id": template_id, **RULES}
    day = datetime.now(PARIS).date() + timedelta(days=2)  # the route plans from the real clock
    window = {"start": f"{day}T09:00", "end": f"{day + timedelta(days=1)}T20:00"}
    refused = app_client.post("/api/v1/campaigns", headers=headers,
                              json={**body, "send_time": {**window, "holdout": 0.1, "seed": 1}})
    assert refused.status_code == 422
    backwards = app_client.post("/api/v1/campaigns", headers=headers,
                                json={**body, "send_time": {"start": window["end"], "end": window["start"]}})
    assert backwards.status_code == 422
    created = app_client.post("/api/v1/campaigns", headers=headers, json={**body, "send_time": window})
    assert created.status_code == 201, created.text
    assert created.json()["send_time"] == {**window, "holdout": 0.1}
    plan = app_client.get(f"/api/v1/campaigns/{created.json()['id']}/send-time", headers=headers).json()
    assert plan["recipients"] == 10 and sum(plan["groups"].values()) == 10
    assert plan["model"]["single_hour"] is True and plan["model"]["note"] == (
        "Compared on customers' recent orders: 31.0% of them next ordered within an hour of their own best hour, "
        "35.0% within an hour of one best hour for everyone. One hour for everyone came out ahead by 4.0 "
        "percentage points, so everyone is texted at that single best hour.")
    assert plan["groups"][send_time.BEST] == 0 or plan["local_hours"][send_time.BEST] == {
        "19:00": plan["groups"][send_time.BEST]}
    assert all(r["reason"] in ("holdout: random time", "best time: 19:00, one hour for everyone (customers' own "
                                "hours did no better)") for r in plan["reasons"])


@pytest.mark.parametrize(("validation", "single_hour", "says"), [
    ({"hour_hit_pm1": 0.426, "one_best_hour": 0.425}, False,
     "42.6% of them next ordered within an hour of their own best hour, 42.5% within an hour of one best hour "
     "for everyone. Their own hour came out ahead by 0.1 percentage points, so each recipient is texted at their "
     "own best hour."),
    ({"hour_hit_pm1": 0.4251, "one_best_hour": 0.425}, False,
     "ahead by less than 0.1 percentage point, so each recipient is texted at their own best hour."),
    ({"hour_hit_pm1": 0.35, "one_best_hour": 0.35}, True,
     "Both did equally well, so everyone is texted at that single best hour."),
    ({}, True, "Customers' own best hours did no better than one best hour for everyone, so everyone is texted at "
               "that single best hour."),
    ({}, False, "Each recipient is texted at their own best hour, learned from their past orders."),
])
def test_the_model_note_says_what_was_compared_which_won_by_how_much_and_what_follows(
        validation: dict[str, float], single_hour: bool, says: str) -> None:
    note = send_time.ModelStatus("v1", single_hour, validation).note
    assert note.endswith(says) and "±" not in note and "personal" not in note


def test_wizard_sets_the_option_shows_the_model_note_and_the_report_section(app_client: TestClient) -> None:
    from tests.console.helpers import create_console_user, log_in

    with db.session_scope() as session:
        ids = [create_contact(session, n).id for n in range(3)]
        template_id = create_template(session).id
    _, secret = create_console_user("mia@example.com", role="marketer")
    headers = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "mia@example.com", secret)}
    day = datetime.now(PARIS).date() + timedelta(days=2)
    form = {"draft_id": "", "name": "Best", "segment": "", "mode": "single", "template_id": str(template_id),
            "when": "now", "timezone": "Europe/Paris", "quiet_end": "08:00", "quiet_start": "21:00",
            "throttle_per_minute": "0", "frequency_cap": "3", "frequency_days": "7", "best_time": "on",
            "best_start": f"{day}T09:00", "best_end": "", "best_holdout": "20"}
    missing = app_client.post("/console/campaigns/wizard/review", data=form, headers=headers).text
    problem = re.search(r'id="problem-best_end"[^>]*>([^<]*)<', missing)
    assert problem is not None and problem.group(1) == "choose a date and a time"
    form["best_end"] = f"{day + timedelta(days=1)}T20:00"
    shown = app_client.post("/console/campaigns/wizard/review", data=form, headers=headers).text
    assert "Best time: each recipient at their best hour" in shown and "20% at a random time" in shown
    assert "No send-time model is trained yet" in shown
    first_opening = sum(not send_time.in_holdout(0, i, 0.2) for i in ids)  # no history: the window's opening
    assert re.search(rf"{day:%a %d %b} 09:00</th><td>{first_opening}<", shown) or first_opening == 0
    assert app_client.post("/console/campaigns/wizard/save", data=form, headers=headers).status_code == 204
    with db.session_scope() as session:
        draft = session.scalars(select(Campaign)).one()
        assert draft.send_time == {"start": f"{day}T09:00", "end": f"{day + timedelta(days=1)}T20:00", "holdout": 0.2}
        draft.status = "running"
        draft_id = draft.id
    page = app_client.get(f"/console/campaigns/{draft_id}", headers={"Accept": "text/html"}).text
    assert 'id="send-time"' in page and "Random time (holdout)" in page
    assert "The click lift is n/a: fewer than 30 messages in a group." in page


def test_a_repeating_campaign_cannot_have_one_fixed_window() -> None:
    from pydantic import ValidationError

    from campaigns.schemas import CampaignIn

    with pytest.raises(ValidationError, match="one-off campaign"):
        CampaignIn(name="weekly", template_id=1, recurrence="0 10 * * 1", send_time=WINDOW)


def test_the_waiting_table_does_not_give_every_message_the_first_ones_time(app_client: TestClient) -> None:
    """A best-time campaign's queued texts are all 'scheduled', each at its own time: the report's "Waiting to be
    sent" read "best time: 19:00 … (Thu 19:00 Europe/Paris) | 10" for ten texts of which some went at 08:00 and the
    holdout at random times. The row now says it names the first of them, and when the last is planned."""
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(10)]
        _predict(session, {c.id: (19, 3, True) if i < 5 else (10, 4, True) for i, c in enumerate(contacts)})
        campaign = create_campaign(session, create_template(session), **RULES, timezone="Europe/Paris",
                                   send_time={**WINDOW, "holdout": 0.3})
        cid = campaign.id
    assert _prepare(cid) == 10
    last = max(_at(row) for row in _messages(cid)).astimezone(PARIS)
    with db.session_scope() as session:
        [group] = campaign_report(session, session.get_one(Campaign, cid))["waiting"]
    assert (group["reason"], group["count"]) == ("scheduled", 10) and group["details"] > 1
    assert group["last_at"] == last.astimezone(UTC).isoformat()
    headers = auth_headers("marketer")
    page = app_client.get(f"/console/campaigns/{cid}", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 200, page.text
    row = page.text.split('<tr data-reason="scheduled">', 1)[1].split("</tr>", 1)[0]
    assert f": the first of them; the others each at their own time, the last {last:%Y-%m-%d %H:%M}</th>" in row, row
    assert "<td>10</td>" in row


def test_the_waiting_table_says_when_the_others_go_at_the_same_time(app_client: TestClient) -> None:
    """Best hours of 03:00 and 04:00, both outside the window, plan every text at its nearest opening, Friday 08:00:
    the row read "the first of them; the others each at their own time, the last 2026-12-04 08:00", beside a next
    planned time of 2026-12-04 08:00, as if some went later."""
    with db.session_scope() as session:
        contacts = [create_contact(session, i) for i in range(4)]
        _predict(session, {c.id: (3 + i % 2, 4, True) for i, c in enumerate(contacts)})
        campaign = create_campaign(session, create_template(session), **RULES, timezone="Europe/Paris",
                                   send_time={**WINDOW, "holdout": 0})
        cid = campaign.id
    assert _prepare(cid) == 4
    assert {_at(row).astimezone(PARIS) for row in _messages(cid)} == {datetime(2026, 12, 4, 8, 0, tzinfo=PARIS)}
    page = app_client.get(f"/console/campaigns/{cid}", headers={**auth_headers("marketer"), "Accept": "text/html"})
    row = page.text.split('<tr data-reason="scheduled">', 1)[1].split("</tr>", 1)[0]
    assert ": the first of them; the others go at the same time</th>" in row and "their own time" not in row, row
