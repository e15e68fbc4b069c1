"""Each role's console: its home after log-in, only its navigation, a friendly 403 page, the landing page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.console.helpers import escalated_conversation
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize(
    ("role", "home"),
    [("agent", "/console/inbox"), ("marketer", "/console/campaigns"), ("analyst", "/console/qa"),
     ("admin", "/console/overview")],
)
def test_each_role_lands_on_its_home(app_client: TestClient, role: str, home: str) -> None:
    headers = {**HTML, **auth_headers(role)}
    landed = app_client.get("/console", headers=headers, follow_redirects=False)
    assert (landed.status_code, landed.headers["location"]) == (303, home)
    page = app_client.get(home, headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'class="brand" href="' + home + '"' in page.text


def test_navigation_offers_only_the_role_s_pages(app_client: TestClient) -> None:
    marketer = app_client.get("/console/campaigns", headers={**HTML, **auth_headers("marketer")}).text
    assert 'href="/console/campaigns" aria-current="page"' in marketer
    for other in ("/console/inbox", "/console/supervisor", "/console/qa", "/console/users", "/console/overview"):
        assert f'href="{other}"' not in marketer, other
    assert 'id="status-select"' not in marketer  # the agent's Online/Offline switch is not a marketer's
    analyst = app_client.get("/console/qa", headers={**HTML, **auth_headers("analyst")}).text
    assert 'href="/console/campaigns"' in analyst and 'href="/console/supervisor"' in analyst
    assert 'href="/console/inbox"' not in analyst and 'href="/console/users"' not in analyst
    admin = app_client.get("/console/overview", headers={**HTML, **auth_headers("admin")}).text
    for page in ("/console/overview", "/console/inbox", "/console/campaigns", "/console/qa", "/console/users"):
        assert f'href="{page}"' in admin, page


def test_a_forbidden_page_is_friendly_html_linking_home(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    page = app_client.get("/console/inbox", headers={**HTML, **marketer})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "This page is not part of your role" in page.text
    assert '<a href="/console/campaigns" id="go-home">' in page.text
    assert '"status":403' not in page.text
    api = app_client.get("/console/inbox", headers=marketer)  # an API client keeps the problem+json
    assert api.status_code == 403 and api.headers["content-type"] == "application/problem+json"


def test_an_anonymous_console_page_goes_to_log_in(app_client: TestClient) -> None:
    for path in ("/console", "/console/overview", "/console/canned"):
        page = app_client.get(path, headers=HTML, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/console/login?next="), path


def test_admin_overview_counts_what_waits(app_client: TestClient) -> None:
    escalated_conversation("+33611110001")
    escalated_conversation("+33611110002")
    page = app_client.get("/console/overview", headers={**HTML, **auth_headers("admin")})
    assert page.status_code == 200
    assert 'id="ov-open">2<' in page.text and 'id="ov-waiting">2<' in page.text
    assert 'id="ov-running">0<' in page.text and 'id="ov-failed">0<' in page.text
    assert app_client.get("/console/overview", headers={**HTML, **auth_headers("agent")}).status_code == 403


def test_landing_page_links_the_console_simulator_and_docs(app_client: TestClient, runtime: Settings) -> None:
    page = app_client.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/console"' in page.text and 'href="/simulator"' in page.text and 'href="/docs"' in page.text
    assert runtime.business_name in page.text


def test_landing_page_leaves_out_what_this_deployment_does_not_offer(app_client: TestClient, runtime: Settings) -> None:
    app_client.app.state.settings = runtime.model_copy(  # type: ignore[attr-defined]
        update={"channel": "vonage", "env": "production", "public_docs": False}
    )
    page = app_client.get("/", headers=HTML)
    assert 'href="/console"' in page.text
    assert 'href="/simulator"' not in page.text and 'href="/docs"' not in page.text
