"""Pause, resume and cancel from the campaign page: what each state offers, the CSRF header, the
audit entries the API writes, the delivery authority honouring the new state, and the per-recipient
export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from campaigns import flows, tasks
from campaigns.models import Campaign, CampaignLink, LinkClick
from campaigns.prepare import prepare_chunk
from conversations.models import Message
from core import db
from core.models import AuditEntry
from delivery.authority import may_send
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _running(count: int = 3) -> tuple[int, list[int]]:
    """A campaign of ``count`` contacts, started and prepared now (messages queued); (id, message ids)."""
    with db.session_scope() as session:
        for n in range(count):
            create_contact(session, n)
        campaign = create_campaign(session, create_template(session, body="Promo"), name="Printemps")
        flows.start_run(session, campaign, now=db.utcnow())
        campaign_id = campaign.id
    assert tasks.prepare_campaign(campaign_id) == count
    with db.session_scope() as session:
        ids = list(session.scalars(select(Message.id).where(Message.campaign_id == campaign_id).order_by(Message.id)))
        return campaign_id, ids


def _verdicts(ids: list[int]) -> set[tuple[str, str]]:
    """What the delivery authority would decide for the messages right now: (action, code)."""
    with db.session_scope() as session:
        rows = list(session.scalars(select(Message).where(Message.id.in_(ids))))
        return {(v.action, v.code) for v in may_send(session, rows, now=db.utcnow()).values()}


def _marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _buttons(html: str) -> set[str]:
    return {b for b in ("campaign-edit", "campaign-pause", "campaign-resume", "campaign-cancel") if f'id="{b}"' in html}


def test_pause_resume_and_cancel_from_the_page_are_audited_and_honoured(app_client: TestClient) -> None:
    campaign_id, ids = _running()
    headers = _marketer(app_client)
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _buttons(page) == {"campaign-pause", "campaign-cancel"} and 'data-state="running"' in page
    assert "hx-confirm=\"Pause “Printemps”?" in page and 'id="confirm-dialog"' in page
    assert _verdicts(ids) == {("go", "")}
    assert "due now" in page and 'id="waiting-paused"' not in page

    assert app_client.post(f"/console/campaigns/{campaign_id}/pause", headers=HTMX).status_code == 403  # no CSRF
    paused = app_client.post(f"/console/campaigns/{campaign_id}/pause", headers=headers)
    assert paused.status_code == 204
    assert paused.headers["HX-Location"] == f"/console/campaigns/{campaign_id}?done=paused"
    assert _verdicts(ids) == {("wait", "paused")}  # the authority holds every queued message
    page = app_client.get(f"/console/campaigns/{campaign_id}?done=paused", headers=HTML).text
    assert "The campaign is paused: its queued messages wait." in page
    assert _buttons(page) == {"campaign-resume", "campaign-cancel"} and "Paused: queued messages wait." in page
    assert "Queued messages are re-planned from now" in page and 'id="next-run"' not in page  # under way: no start
    # the waiting table no longer reads "due now": nothing goes until resume, which plans the times again
    waiting = page.split('id="waiting"', 1)[1].split("</table>", 1)[0]
    assert 'id="waiting-paused"' in page and "paused: planned again at resume" in waiting
    assert "due now" not in waiting and "<td>now</td>" not in waiting
    assert app_client.post(f"/console/campaigns/{campaign_id}/pause", headers=headers).status_code == 409

    resumed = app_client.post(f"/console/campaigns/{campaign_id}/resume", headers=headers)
    assert resumed.status_code == 204
    assert _verdicts(ids) == {("go", "")}

    cancelled = app_client.post(f"/console/campaigns/{campaign_id}/cancel", headers=headers)
    assert cancelled.status_code == 204
    with db.session_scope() as session:
        assert session.get_one(Campaign, campaign_id).status == "cancelled"
        assert set(session.scalars(select(Message.error_code).where(Message.id.in_(ids)))) == {"campaign_cancelled"}
        actions = [(e.actor_type, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "campaign").order_by(AuditEntry.id))]
    assert actions == [("user", "campaign.pause"), ("user", "campaign.resume"), ("user", "campaign.cancel")]
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _buttons(page) == set() and "Cancelled: messages still queued were not sent" in page
    assert app_client.post(f"/console/campaigns/{campaign_id}/cancel", headers=headers).status_code == 409


def _state_words(page: str) -> str:
    return " ".join(page.split('id="state-words">', 1)[1].split("</p>", 1)[0].split())


def test_a_campaign_paused_while_it_is_prepared_says_how_far_it_got_and_what_resume_does(
        app_client: TestClient) -> None:
    """Paused part-way through preparation (2 of 5 recipients prepared), the page read "Paused: queued messages
    wait", as if everyone's text were queued: nothing said that the rest had none yet, that nothing more is prepared
    while paused, nor that resume goes on preparing."""
    with db.session_scope() as session:
        for n in range(5):
            create_contact(session, n)
        campaign = create_campaign(session, create_template(session, body="Promo"), name="Printemps")
        flows.start_run(session, campaign, now=db.utcnow())
        assert prepare_chunk(session, campaign, now=db.utcnow(), chunk=2).queued == 2
        campaign_id = campaign.id
    headers = _marketer(app_client)
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert 'data-state="preparing"' in page
    assert "Its preparation stops where it is, and the messages prepared so far wait until you resume it." in page
    assert app_client.post(f"/console/campaigns/{campaign_id}/pause", headers=headers).status_code == 204
    assert tasks.prepare_campaign(campaign_id) == 0  # nothing more is prepared while paused

    page = app_client.get(f"/console/campaigns/{campaign_id}?done=paused", headers=HTML).text
    assert ("The campaign is paused part-way through its preparation: 2 messages were prepared, and they wait; "
            "nothing more is prepared until you resume it.") in page
    assert _state_words(page) == (
        "Paused while it was being prepared: 2 messages were prepared before the pause, and none yet for the rest of "
        "its audience. While paused, nothing more is prepared and nothing is sent. Resuming prepares the rest from "
        "where it stopped and re-plans the prepared messages from now (quiet hours and throttle included); "
        "cancelling stops it for good.")
    assert "Its preparation continues from where it stopped" in page and "queued messages wait" not in page

    assert app_client.post(f"/console/campaigns/{campaign_id}/resume", headers=headers).status_code == 204
    page = app_client.get(f"/console/campaigns/{campaign_id}?done=resumed", headers=HTML).text
    assert "The campaign is resumed: its preparation continues from where it stopped" in page
    assert tasks.prepare_campaign(campaign_id) == 3  # what resume said: the rest, nobody twice
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).where(Message.campaign_id == campaign_id)) == 5


@pytest.mark.parametrize(("status", "buttons"), [
    ("draft", {"campaign-edit", "campaign-cancel"}),
    ("scheduled", {"campaign-pause", "campaign-cancel"}),
    ("running", {"campaign-pause", "campaign-cancel"}),
    ("paused", {"campaign-resume", "campaign-cancel"}),
    ("completed", set()),
])
def test_each_state_offers_what_the_marketer_may_do(app_client: TestClient, status: str, buttons: set[str]) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), name="Été")
        campaign.status = status
        campaign_id = campaign.id
    _marketer(app_client)
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _buttons(page) == buttons and f'data-state="{status}"' in page
    if status == "draft":
        assert "Discard the draft" in page


def test_a_draft_is_discarded_and_analysts_see_no_buttons(app_client: TestClient) -> None:
    with db.session_scope() as session:
        campaign_id = create_campaign(session, create_template(session), name="Brouillon").id
    headers = _marketer(app_client)
    assert app_client.post(f"/console/campaigns/{campaign_id}/cancel", headers=headers).status_code == 204
    with db.session_scope() as session:
        assert session.get_one(Campaign, campaign_id).status == "cancelled"
    app_client.cookies.clear()
    _, secret = create_console_user("ana@example.com", role="analyst")
    csrf = log_in(app_client, "ana@example.com", secret)
    campaign_id, _ = _running(1)
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert page.count('id="campaign-state"') == 1 and _buttons(page) == set()
    # no buttons, and no words offering what they cannot do ("Pausing holds them; cancelling…")
    said = page.split('id="state-words">', 1)[1].split("</p>", 1)[0]
    assert "Where it stands" in page and "What you can do now" not in page
    assert said.startswith("Sending:") and "Paus" not in said and "cancel" not in said
    refused = app_client.post(f"/console/campaigns/{campaign_id}/pause", headers={**HTMX, "X-CSRF-Token": csrf})
    assert refused.status_code == 403


def test_the_recipients_export_has_one_line_per_message_with_its_outcome(app_client: TestClient) -> None:
    campaign_id, ids = _running(3)
    with db.session_scope() as session:
        first, second, third = (session.get_one(Message, i) for i in ids)
        first.status, first.sent_at, first.delivered_at, first.price_micros = (
            "delivered", db.utcnow(), db.utcnow(), 50_000)
        second.status, second.error_code, second.error_reason = "failed", "unreachable", "handset off"
        link = CampaignLink(campaign_id=campaign_id, url="https://shop.example")
        session.add(link)
        session.flush()
        for _ in range(2):
            session.add(LinkClick(link_id=link.id, campaign_id=campaign_id, contact_id=first.contact_id))
        third_contact = third.contact_id
    _marketer(app_client)
    export = app_client.get(f"/console/campaigns/{campaign_id}/recipients.csv")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["message_id"] for r in rows] == [str(i) for i in ids]
    assert (rows[0]["status"], rows[0]["cost"], rows[0]["clicks"]) == ("delivered", "0.05", "2")
    assert (rows[1]["status"], rows[1]["reason"], rows[1]["detail"]) == ("failed", "unreachable", "handset off")
    assert (rows[2]["contact_id"], rows[2]["status"], rows[2]["reason"]) == (str(third_contact), "queued", "due")
    assert "+336" not in export.text  # no phone numbers in the file
    assert app_client.get("/console/campaigns/999999/recipients.csv").status_code == 404


@pytest.fixture
def browser() -> Iterator[Browser]:
    yield from tools.launch()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.browser
def test_marketer_pauses_and_resumes_from_the_page_with_the_keyboard(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session, body="Promo"), name="Printemps")
        campaign.status = "scheduled"  # waiting for its time: pause and cancel are offered
        campaign.timezone = "Europe/Paris"
        campaign.next_run_at = datetime(2031, 5, 2, 8, 0)  # UTC
        campaign_id = campaign.id
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/{campaign_id}")
    expect(page.locator("#campaign-state")).to_have_attribute("data-state", "scheduled")
    expect(page.locator("#next-run")).to_contain_text("2031-05-02 10:00")
    assert tools.page_width(page) <= 360
    page.focus("#campaign-pause")
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    # nothing is queued before it starts: "Its queued messages wait" was untrue
    expect(page.locator("#confirm-question")).to_contain_text("It does not start until you resume it.")
    expect(page.locator("#confirm-no")).to_be_focused()  # the safe answer first
    assert tools.serious_violations(page) == []
    page.keyboard.press("Shift+Tab")  # "Yes, go ahead"
    expect(page.locator("#confirm-yes")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/console/campaigns/{campaign_id}?done=paused")
    expect(page.locator("#campaign-state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#done")).to_have_text(
        "The campaign is paused before its send: it does not start until you resume it.")
    expect(page.locator("#state-words")).to_contain_text(
        "Paused before it started: nothing is prepared or queued yet, and it does not start while paused. Resuming "
        "puts it back on its schedule: it starts at its planned send time, at once if that time has passed")
    # the planned time stays in sight (it disappeared once paused), said to be on hold
    expect(page.locator(".meta")).to_contain_text("planned send, on hold while paused: 2031-05-02 10:00")
    page.click("#campaign-resume")
    expect(page.locator("#confirm-question")).to_contain_text("It starts at its planned send time")
    page.click("#confirm-yes")
    page.wait_for_url(f"{live_server}/console/campaigns/{campaign_id}?done=resumed")
    expect(page.locator("#campaign-state")).to_have_attribute("data-state", "scheduled")
    expect(page.locator("#done")).to_contain_text("it starts at its planned send time")
    expect(page.locator("#next-run")).to_contain_text("2031-05-02 10:00")
    assert tools.serious_violations(page) == [] and tools.page_width(page) <= 360
    with db.session_scope() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "campaign")
                                       .order_by(AuditEntry.id)))
    assert actions == ["campaign.pause", "campaign.resume"]
