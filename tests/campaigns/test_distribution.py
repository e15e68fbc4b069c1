"""The campaign wizard's review of a draft: planned send distribution, audience by reason, cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from campaigns import flows, plan, preview, tasks
from campaigns.models import Campaign
from contacts.models import Contact
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template

WEDNESDAY_2330_PARIS = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)
WEDNESDAY_NOON_PARIS = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


def _draft(**fields: object) -> Campaign:
    values: dict[str, object] = {"id": None, "quiet_start": "21:00", "quiet_end": "08:00",
                                 "respect_country_rules": False, "timezone": "UTC", "local_time": "", "local_date": "",
                                 "throttle_per_minute": 0, "ab": {}}
    values.update(fields)
    return Campaign(**values)


def test_messages_due_in_the_quiet_hours_are_planned_for_the_morning() -> None:
    paris = [(n, "Europe/Paris", "FR") for n in range(3)]
    tokyo = [(10, "Asia/Tokyo", "JP")]  # 06:30 there: waits for 08:00 too
    spread = plan.distribution(_draft(), [*paris, *tokyo], start=WEDNESDAY_2330_PARIS)
    assert spread.hours == ((datetime(2026, 6, 10, 23, 0, tzinfo=UTC), 1), (datetime(2026, 6, 11, 6, 0, tzinfo=UTC), 3))
    assert spread.waits == {"quiet_hours": 4} and spread.total == 4


def test_the_throttle_spreads_the_sends_and_says_so() -> None:
    people = [(n, "Europe/Paris", "FR") for n in range(150)]
    spread = plan.distribution(_draft(throttle_per_minute=2), people, start=WEDNESDAY_NOON_PARIS)
    # 2 a minute: 120 in the first hour, 30 in the next
    ten, eleven = datetime(2026, 6, 10, 10, 0, tzinfo=UTC), datetime(2026, 6, 10, 11, 0, tzinfo=UTC)
    assert spread.hours == ((ten, 120), (eleven, 30))
    assert spread.waits == {"throttled": 148}


def test_an_ab_test_sends_the_rest_when_the_winner_is_chosen() -> None:
    ab = {"arms": [{"name": "A", "template_id": 1}, {"name": "B", "template_id": 2}], "test_fraction": 0.2,
          "winner_after_hours": 3}
    people = [(n, "Europe/Paris", "FR") for n in range(1, 501)]
    spread = plan.distribution(_draft(id=7, ab=ab), people, start=WEDNESDAY_NOON_PARIS)
    now_hour, later_hour = spread.hours
    assert now_hour[0] == WEDNESDAY_NOON_PARIS and later_hour[0] == WEDNESDAY_NOON_PARIS + timedelta(hours=3)
    assert 60 < now_hour[1] < 140 and now_hour[1] + later_hour[1] == 500  # about 20 % tested first
    assert spread.waits == {"ab_winner": later_hour[1]}
    assert spread.winner_at == WEDNESDAY_NOON_PARIS + timedelta(hours=3)


def test_the_test_group_is_counted_even_when_the_rest_waits_for_a_window_past_the_winner() -> None:
    """At 17:30 in Paris a 3-hour test's winner is chosen at 20:30, after France's 20:00: the rest waits for the
    country's hours, not for the winner, and the wizard, counting the test group from the "winner" waits, read
    everyone as tested (its "the test group holds nobody" warning vanished late in the afternoon in Paris)."""
    ab = {"arms": [{"name": "A", "template_id": 1}, {"name": "B", "template_id": 2}], "test_fraction": 0.2,
          "winner_after_hours": 3}
    people = [(n, "Europe/Paris", "FR") for n in range(1, 501)]
    tuesday_1730_paris = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    spread = plan.distribution(_draft(id=7, ab=ab, respect_country_rules=True), people, start=tuesday_1730_paris)
    first_hour = spread.hours[0]
    assert first_hour[0] == tuesday_1730_paris.replace(minute=0) and spread.tested == first_hour[1]
    assert 60 < spread.tested < 140 and spread.waits == {"country_rule": 500 - spread.tested}
    plain = plan.distribution(_draft(), people, start=tuesday_1730_paris)
    assert plain.tested == 0  # no test, nobody tested


def test_the_estimate_counts_exclusions_by_reason_and_prices_the_rest(runtime: Settings) -> None:
    with db.session_scope() as session:
        for n in range(4):
            create_contact(session, n)
        create_contact(session, 10, opted_in=False)
        capped = create_contact(session, 11)
        template = create_template(session, body="Soldes -20% ce week-end")
        for _ in range(3):
            session.add(Message(contact_id=capped.id, direction="out", body="x", status="delivered",
                                lane="marketing", created_at=db.utcnow() - timedelta(days=1)))
        campaign = create_campaign(session, template, respect_country_rules=False)
        found = preview.estimate(session, campaign, start=WEDNESDAY_NOON_PARIS, now=db.utcnow())
        assert (found.audience.matched, found.audience.sendable) == (6, 4)
        assert found.audience.excluded == {"no_consent": 1, "frequency_cap": 1}
        expected = select(Contact.id).where(Contact.consent_status == "opted_in", Contact.id != capped.id)
        assert {r[0] for r in found.audience.recipients} == set(session.scalars(expected))
        [(arm, message)] = found.messages
        assert arm == "" and message.segments == 1 and message.text.startswith("Soldes -20%")
        assert found.price == preview.Price(preview.DEFAULT_SEGMENT_PRICE_MICROS, 0)
        assert found.cost_low_micros == found.cost_high_micros == 4 * preview.DEFAULT_SEGMENT_PRICE_MICROS
        assert found.distribution.total == 4
        session.add(Message(contact_id=capped.id, direction="out", body="y", status="delivered", lane="marketing",
                            segments=2, price_micros=70_000))
        session.flush()
        price = preview.segment_price(session)
        assert price.micros == 35_000 and "2 segments priced" in price.basis


def test_an_adaptive_campaign_is_planned_batch_by_batch_as_it_is_prepared(runtime: Settings) -> None:
    """The wizard planned an adaptive campaign as a fixed A/B test: 80 % of the audience "waiting 4 hours for the
    A/B winner", where the bandit texts the first batch at once and the next ones ``batch_minutes`` apart; and the
    control, who get no message, were counted as sends."""
    with db.session_scope() as session:
        for n in range(50):
            create_contact(session, n)
        create_contact(session, 50, opted_in=False)  # in the segment, so in a batch, but never texted
        a = create_template(session, body="Version A", name="A")
        b = create_template(session, body="Version B", name="B")
        ab = {"mode": "adaptive", "arms": [{"name": "A", "template_id": a.id}, {"name": "B", "template_id": b.id}],
              "batch_size": 20, "batch_minutes": 60, "control_share": 0.1}
        campaign = create_campaign(session, a, ab=ab, frequency_cap=0)
        found = preview.estimate(session, campaign, start=WEDNESDAY_NOON_PARIS, now=WEDNESDAY_NOON_PARIS)
        campaign_id = campaign.id
    spread = found.distribution
    hour = timedelta(hours=1)
    # batches of 20, 20 and 11 contacts (10 of them texted); the control keeps 2, 2 and 1
    assert spread.hours == ((WEDNESDAY_NOON_PARIS, 18), (WEDNESDAY_NOON_PARIS + hour, 18),
                            (WEDNESDAY_NOON_PARIS + 2 * hour, 9))
    assert spread.waits == {"adaptive_batch": 27} and spread.held_back == 5
    assert spread.winner_at is None and spread.last_batch_at == WEDNESDAY_NOON_PARIS + 2 * hour
    assert found.cost_low_micros == 45 * preview.DEFAULT_SEGMENT_PRICE_MICROS  # the control costs nothing

    # preparation texts the same numbers at those times (no click: no variant is ever clearly best)
    with db.session_scope() as session:
        flows.start_run(session, session.get_one(Campaign, campaign_id), now=WEDNESDAY_NOON_PARIS)
    texted = []
    for batch in range(3):
        moment = WEDNESDAY_NOON_PARIS + batch * hour
        tasks.sweep(now=moment)
        tasks.prepare_campaign(campaign_id, now=moment)
        with db.session_scope() as session:
            texted.append(session.scalar(select(func.count()).select_from(Message)
                                         .where(Message.campaign_id == campaign_id)))
            # the batch's texts go at once (a worker sends them): the next batch waits for them, not longer
            session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="sent"))
    assert texted == [18, 36, 45]


def test_an_adaptive_campaign_at_best_times_plans_each_batch_after_the_one_before_went(runtime: Settings) -> None:
    """With "send at each contact's best time", the wizard planned batch 2 an hour after the start, while batch 1's
    texts waited for the next day: the bandit splits a batch only once the one before went (``adaptive.must_wait``),
    so the plan puts it ``batch_minutes`` after batch 1's last best time, and the test's last batch at ``max_hours``
    at the latest."""
    with db.session_scope() as session:
        for n in range(40):
            create_contact(session, n)
        a = create_template(session, body="Version A", name="A")
        b = create_template(session, body="Version B", name="B")
        ab = {"mode": "adaptive", "arms": [{"name": "A", "template_id": a.id}, {"name": "B", "template_id": b.id}],
              "batch_size": 20, "batch_minutes": 60, "control_share": 0.1, "max_hours": 30}
        campaign = create_campaign(session, a, ab=ab, frequency_cap=0, quiet_start="21:00", quiet_end="08:00",
                                   send_time={"start": "2026-06-11T09:00", "end": "2026-06-13T20:00", "holdout": 0.0})
        found = preview.estimate(session, campaign, start=WEDNESDAY_NOON_PARIS, now=WEDNESDAY_NOON_PARIS)
    spread = found.distribution
    first = spread.hours[0][0]
    assert first == datetime(2026, 6, 11, 7, 0, tzinfo=UTC)  # Thursday 09:00 in Paris, the window's first opening
    assert spread.last_batch_at is not None and spread.last_batch_at > first  # after batch 1 went, not Wed 13:00
    assert spread.last_batch_at == min(first + timedelta(hours=1), WEDNESDAY_NOON_PARIS + timedelta(hours=30))
