"""The console's users page (admins): the list with role, 2FA and status, and HTMX actions that
need the CSRF header, change the user at once and are audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core import accounts, db
from core.models import AuditEntry, ConsoleSession, User
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_admin_lists_users_and_acts_on_them(app_client: TestClient) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    agent_id, _ = create_console_user("ana@example.com", role="agent")
    with db.session_scope() as session:
        agent = session.get(User, agent_id)
        assert agent is not None
        accounts.open_console_session(session, user=agent, verified=True)
    csrf = log_in(app_client, "boss@example.com", secret)

    page = app_client.get("/console/users", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'href="/console/users" aria-current="page"' in page.text
    row = page.text.split(f'data-user="{agent_id}"', 1)[1].split("</tr>", 1)[0]
    assert "ana@example.com" in row and "agent" in row and ">on<" in row and ">active<" in row
    assert 'for="password-' in row  # the password field has its label

    htmx = {"HX-Request": "true"}
    no_token = app_client.post(f"/console/users/{agent_id}/deactivate", headers=htmx)
    assert no_token.status_code == 403
    in_query = app_client.post(f"/console/users/{agent_id}/deactivate", params={"csrf_token": csrf}, headers=htmx)
    assert in_query.status_code == 403
    headers = {**htmx, "X-CSRF-Token": csrf}
    done = app_client.post(f"/console/users/{agent_id}/deactivate", headers=headers)
    assert done.status_code == 200 and "ana@example.com is deactivated." in done.text
    assert ">deactivated<" in done.text and "Reactivate" in done.text
    short = app_client.post(f"/console/users/{agent_id}/password", data={"password": "short"}, headers=headers)
    assert short.status_code == 422
    reset = app_client.post(
        f"/console/users/{agent_id}/password", data={"password": "temporary pw 123"}, headers=headers
    )
    assert reset.status_code == 200 and "Temporary password set for ana@example.com" in reset.text
    assert app_client.post(f"/console/users/{agent_id}/2fa/reset", headers=headers).status_code == 200
    assert app_client.post(f"/console/users/{agent_id}/reactivate", headers=headers).status_code == 200
    with db.session_scope() as session:
        agent = session.get(User, agent_id)
        assert agent is not None and agent.is_active and agent.totp_secret is None
        assert session.scalars(select(ConsoleSession).where(ConsoleSession.user_id == agent_id)).all() == []
        actions = [
            (e.actor_type, e.action)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(agent_id)))
        ]
    assert actions == [
        ("user", "user.deactivate"),
        ("user", "user.password.reset"),
        ("user", "user.2fa.reset"),
        ("user", "user.reactivate"),
    ]


def test_agents_do_not_get_the_users_page(app_client: TestClient) -> None:
    _, secret = create_console_user("ana@example.com", role="agent")
    log_in(app_client, "ana@example.com", secret)
    assert app_client.get("/console/users", headers=HTML).status_code == 403
    assert 'href="/console/users"' not in app_client.get("/console", headers=HTML).text


def test_each_user_reads_with_the_name_the_other_pages_give_them(app_client: TestClient) -> None:
    """The inbox, the Transfer menu and the supervisor page name an agent "Léa Martin"; the users page gave the
    e-mail alone, so an admin could not tell which row was hers."""
    _, secret = create_console_user("boss@example.com", role="admin")
    with db.session_scope() as session:
        lea = accounts.create_user(
            session, email="lea@example.com", password="long enough password", role="agent", name="Léa Martin"
        ).id
    log_in(app_client, "boss@example.com", secret)
    page = app_client.get("/console/users", headers=HTML).text
    row = page.split(f'data-user="{lea}"', 1)[1].split("</th>", 1)[0]
    assert 'lea@example.com<span class="meta">Léa Martin</span>' in row


def test_admin_changes_a_role_but_not_their_own(app_client: TestClient) -> None:
    boss_id, secret = create_console_user("boss@example.com", role="admin")
    ana_id, _ = create_console_user("ana@example.com", role="analyst")
    headers = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "boss@example.com", secret)}
    page = app_client.get("/console/users", headers=HTML).text
    mine = page.split(f'data-user="{boss_id}"', 1)[1].split("</tr>", 1)[0]
    assert ">you</span>" in mine and "another admin can change your role" in mine
    assert "/role" not in mine and "/deactivate" not in mine  # nothing to press by accident
    ana = page.split(f'data-user="{ana_id}"', 1)[1].split("</tr>", 1)[0]
    assert f'hx-post="/console/users/{ana_id}/role"' in ana and '<option value="analyst" selected>' in ana

    promoted = app_client.post(f"/console/users/{ana_id}/role", data={"role": "admin"}, headers=headers)
    assert promoted.status_code == 200
    assert "ana@example.com is now an admin. Their sessions ended: their next log-in brings the admin&#39;s pages." in (
        promoted.text
    )
    row = promoted.text.split(f'data-user="{ana_id}"', 1)[1].split("</tr>", 1)[0]
    assert '<option value="admin" selected>' in row
    myself = app_client.post(f"/console/users/{boss_id}/role", data={"role": "agent"}, headers=headers)
    assert myself.status_code == 409 and myself.json()["detail"].startswith("you cannot change your own role")
    leave = app_client.post(f"/console/users/{boss_id}/deactivate", headers=headers)
    assert leave.status_code == 409 and leave.json()["detail"].startswith("you cannot deactivate yourself")


@pytest.mark.browser
def test_the_users_table_fits_a_phone_each_user_a_block(live_server: str, page: Page) -> None:
    """At 360 px the table scrolled inside its box (721 px wide): a user's actions were out of sight. Each user is now
    a block, every value after its column's name, as the campaign reports and webhook deliveries are."""
    create_console_user("ana.longname@maison-lumiere.example", role="agent")
    create_console_user("mia@example.com", role="marketer")
    tools.sign_in_as(page, live_server, "lead@example.com", "admin")
    page.goto(f"{live_server}/console/users")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    box = page.locator("#users .table-wrap")
    assert box.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), "the table scrolls sideways in its box"
    row = page.locator("tr", has_text="ana.longname@maison-lumiere.example")
    for name in ("Reset 2FA of ana.longname@maison-lumiere.example", "Deactivate ana.longname@maison-lumiere.example",
                 "Change role of ana.longname@maison-lumiere.example"):
        button = row.get_by_role("button", name=name)
        place = button.bounding_box()
        assert place is not None and place["x"] >= 0 and place["x"] + place["width"] <= tools.PHONE_WIDTH, name
    expect(row.locator('td[data-label="Two-factor"]')).to_be_visible()
    label = row.locator('td[data-label="Status"]').evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"Status: "'
    tools.fits(page)
