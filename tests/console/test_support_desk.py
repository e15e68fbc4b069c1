"""What an agent and a supervisor tripped on at the console in Chromium (session 24), each checked where it happened.

A conversation's Transfer menu offered the agent reading it as a target; choosing "Online" in a tab still showing
"Offline" (the agent had gone online in another) was audited "online → online"; the Supervisor page's tables scrolled
sideways inside their box on a 360 px phone.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from core import accounts, db
from core.audit import SYSTEM
from core.models import AuditEntry
from handoff import flows
from handoff.models import Team, TeamMember
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, assign, conversation_state, create_console_user, escalated_conversation

pytestmark = pytest.mark.browser


def _in_sight(cell: Locator) -> None:
    """Scrolled to, the cell is within the phone's width (its box scrolled it out of sight to the right)."""
    cell.scroll_into_view_if_needed()
    place = cell.bounding_box()
    assert place is not None and place["x"] >= 0 and place["x"] + place["width"] <= tools.PHONE_WIDTH, place


def test_the_transfer_menu_offers_colleagues_never_the_reader(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        accounts.create_user(session, email="lea@example.com", password=PASSWORD, role="agent", name="Léa Martin")
    camille, secret = create_console_user("camille@example.com", status="offline")  # so the escalation waits
    jonas, _ = create_console_user("jonas@example.com", status="away")  # at a console (signed in), away
    tools.log_in(page, live_server, "camille@example.com", PASSWORD, secret)
    conversation_id = escalated_conversation("+33655550141")
    page.goto(f"{live_server}/console/conversations/{conversation_id}")
    expect(page.locator("#conversation-state")).to_have_text("Waiting for an agent")
    options = page.locator("#transfer-target option")
    # before: "camille (offline)" too, a transfer to herself ("Assign to me" is the way to take it); and Léa, who
    # has no console session, could be chosen: the conversation came back to the queue at the next SLA run
    expect(options).to_have_text(["Choose…", "Léa Martin (not signed in)", "jonas (away)"])
    expect(options.filter(has_text="Léa Martin")).to_be_disabled()

    assign(conversation_id, camille)
    page.reload()
    expect(options).to_have_text(["Choose…", "Léa Martin (not signed in)", "jonas (away)"])  # not the owner either
    page.locator("#transfer-target").select_option(label="jonas (away)")
    page.get_by_role("button", name="Transfer", exact=True).click()
    expect(page.locator("#conversation-state")).to_have_text("With jonas")
    expect(options).to_have_text(["Choose…", "Léa Martin (not signed in)"])  # neither jonas, nor camille reading
    assert conversation_state(conversation_id) == ("human", jonas)


def test_choosing_the_status_already_set_in_another_tab_is_not_a_change(live_server: str, page: Page) -> None:
    camille, secret = create_console_user("camille@example.com", status="offline")
    tools.log_in(page, live_server, "camille@example.com", PASSWORD, secret)
    stale = page.context.new_page()  # a second tab, drawn while she was offline, on a page with no live stream
    stale.goto(f"{live_server}/console/inbox/search?q=zoe")
    expect(stale.locator("#status-select")).to_have_value("offline")

    page.locator("#status-select").select_option("online")
    expect(page.locator("#status-select")).to_have_attribute("data-status", "online")
    stale.locator("#status-select").select_option("online")
    expect(stale.locator("#status-select")).to_have_attribute("data-status", "online")

    with db.session_scope() as session:
        changes = session.scalars(
            select(AuditEntry.diff).where(AuditEntry.action == "agent.status", AuditEntry.target_id == str(camille))
        ).all()
    assert changes == [{"status": ["offline", "online"]}]  # before: a second entry, "online → online"


def test_the_status_set_in_another_tab_shows_in_the_inbox_at_once(live_server: str, page: Page) -> None:
    """An inbox tab kept "Offline" after the agent went online in another tab (or an admin set it through the API),
    beside conversations routed to her; it follows the live stream now, and a colleague's change leaves it alone."""
    _, secret = create_console_user("camille@example.com", status="offline")
    jonas, _ = create_console_user("jonas@example.com", status="offline")
    tools.log_in(page, live_server, "camille@example.com", PASSWORD, secret)
    inbox = page.context.new_page()
    inbox.goto(f"{live_server}/console/inbox")
    expect(inbox.locator("body")).to_have_attribute("data-stream-open", "1")
    page.goto(f"{live_server}/console/inbox/search?q=zoe")
    page.locator("#status-select").select_option("away")
    expect(page.locator("#status-select")).to_have_attribute("data-status", "away")
    expect(inbox.locator("#status-select")).to_have_value("away")  # before: "offline" until reloaded
    expect(inbox.locator("#status-select")).to_have_attribute("data-status", "away")
    with db.session_scope() as session:
        flows.set_agent_status(session, user_id=jonas, status="online", actor=SYSTEM)  # a colleague's change
    inbox.wait_for_timeout(1500)  # the event is relayed within milliseconds
    expect(inbox.locator("#status-select")).to_have_value("away")


def test_the_supervisor_tables_read_on_a_phone(live_server: str, page: Page) -> None:
    """At 360 px the agents' table (six columns) scrolled sideways inside its box, the figures out of sight; each agent
    and each team is now a block, every figure after its column's name, as on the users page."""
    lea, _ = create_console_user("lea.longname@maison-lumiere.example")
    with db.session_scope() as session:
        team = Team(name="Après-vente et retours")
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=lea))
    escalated_conversation("+33655550142")  # routed to Léa: one active
    tools.sign_in_as(page, live_server, "analyst@example.com", "analyst")
    page.goto(f"{live_server}/console/supervisor")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    for region in ("Agents", "Teams"):
        box = page.get_by_role("region", name=region)
        assert box.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), f"the {region} table scrolls sideways"
    agent = page.locator("#supervisor tr", has_text="lea.longname")
    handed_back = agent.locator('td[data-label="Handed back to the bot"]')
    _in_sight(handed_back)
    label = handed_back.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"Handed back to the bot: "'
    team_row = page.locator("#supervisor tr", has_text="Après-vente et retours")
    _in_sight(team_row.locator('td[data-label="SLA missed"]'))
    tools.fits(page)


def test_a_half_typed_reply_or_note_survives_the_other_box_being_sent(live_server: str, page: Page) -> None:
    """Adding a note re-draws the whole conversation, and the reply the agent was writing was gone (so was a note
    being written when a reply went). Only the box that was sent starts empty."""
    camille = tools.sign_in_as(page, live_server, "camille@example.com", "agent")
    conversation_id = escalated_conversation("+33655550143")
    assign(conversation_id, camille)
    page.goto(f"{live_server}/console/conversations/{conversation_id}")
    page.locator("#reply").fill("Bonjour, je regarde votre commande")
    page.locator("#note").fill("Called yesterday about the same lamp")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#conversation")).to_contain_text("Called yesterday about the same lamp")
    expect(page.locator("#note")).to_have_value("")
    expect(page.locator("#reply")).to_have_value("Bonjour, je regarde votre commande")  # before: ""
    expect(page.locator("#counter")).to_contain_text("34 characters")

    page.locator("#note").fill("Offer a replacement if the photo shows a crack")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages")).to_contain_text("Bonjour, je regarde votre commande")
    expect(page.locator("#reply")).to_have_value("")
    expect(page.locator("#note")).to_have_value("Offer a replacement if the photo shows a crack")  # before: ""
