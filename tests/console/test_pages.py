"""Console pages and fragments through the real app: guard, log-in, inbox, conversation, actions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from contacts import consent
from contacts.service import find_by_phone
from core import db
from core.settings import Settings
from tests.console.helpers import (
    assign,
    conversation_state,
    create_console_user,
    escalated_conversation,
    log_in,
)
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_anonymous_browser_is_sent_to_login_and_api_clients_get_401(app_client: TestClient) -> None:
    page = app_client.get("/console/conversations/7?view=all", headers=HTML, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login?next=%2Fconsole%2Fconversations%2F7%3Fview%3Dall"
    assert app_client.get("/console", follow_redirects=False).status_code == 401
    fragment = app_client.get("/console/fragments/inbox", headers={**HTML, "HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/console/login"
    login = app_client.get("/console/login?next=//evil.example/x", headers=HTML)
    assert login.status_code == 200 and 'data-next="/console"' in login.text


def test_wrong_roles_are_refused_on_every_page(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    analyst = auth_headers("analyst")
    pages = ("/console/inbox", "/console/conversations/1", "/console/fragments/inbox", "/console/fragments/counter")
    for path in pages:
        assert app_client.get(path, headers={**HTML, **marketer}).status_code == 403, path
        assert app_client.get(path, headers={**HTML, **analyst}).status_code == 403, path
    assert app_client.get("/console/supervisor", headers={**HTML, **analyst}).status_code == 200
    assert app_client.get("/console/supervisor", headers={**HTML, **marketer}).status_code == 403


def test_agent_logs_in_with_totp_and_works_a_conversation(app_client: TestClient, runtime: Settings) -> None:
    user_id, secret = create_console_user("ana@example.com", status="away")
    conversation_id = escalated_conversation("+33611111111", "je veux parler à un conseiller", language="fr")
    with db.session_scope() as session:
        contact = find_by_phone(session, "+33611111111")
        assert contact is not None
        consent.record_opt_in(session, contact=contact, source="keyword", proof="START")
    csrf = log_in(app_client, "ana@example.com", secret)

    enrol = app_client.get("/console/enrol", headers=HTML, follow_redirects=False)
    assert enrol.status_code == 303  # a logged-in user is never re-enrolled by visiting the page
    inbox = app_client.get("/console/inbox?view=unassigned", headers=HTML)
    assert inbox.status_code == 200
    assert f'data-conversation-link="{conversation_id}"' in inbox.text
    assert 'id="count-unassigned">1<' in inbox.text
    assert runtime.business_name in inbox.text and runtime.brand_color in inbox.text

    page = app_client.get(f"/console/conversations/{conversation_id}", headers=HTML)
    assert page.status_code == 200
    for expected in (
        "je veux parler à un conseiller",
        'title="Language">French<',  # the language's name, not its code
        "intent human request 0.93",  # the intent in words: it read "human_request"
        "sentiment negative",
        "Why it escalated",
        "Asked for a person",
        "Summary",
        "Opted in to marketing",
        "Consent history",
        "opt in (keyword)",
        'data-key="a"',
    ):
        assert expected in page.text, expected

    unsafe = app_client.post(f"/console/conversations/{conversation_id}/assign")
    assert unsafe.status_code == 403  # no CSRF token
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    taken = app_client.post(f"/console/conversations/{conversation_id}/assign", headers=headers)
    assert taken.status_code == 200 and taken.headers["hx-trigger"] == "inbox-changed"
    assert conversation_state(conversation_id) == ("human", user_id)

    replied = app_client.post(
        f"/console/conversations/{conversation_id}/reply", data={"body": "Bonjour, je suis là."}, headers=headers
    )
    assert replied.status_code == 200 and "Bonjour, je suis là." in replied.text
    noted = app_client.post(
        f"/console/conversations/{conversation_id}/notes", data={"body": "VIP, be kind"}, headers=headers
    )
    assert "VIP, be kind" in noted.text
    empty = app_client.post(f"/console/conversations/{conversation_id}/reply", data={"body": " "}, headers=headers)
    assert empty.status_code == 422

    mine = app_client.get("/console/fragments/inbox?view=mine", headers=headers)
    assert f'data-conversation-link="{conversation_id}"' in mine.text

    back = app_client.post(f"/console/conversations/{conversation_id}/handback", headers=headers)
    assert back.status_code == 200 and conversation_state(conversation_id) == ("bot", None)
    closed = app_client.post(
        f"/console/conversations/{conversation_id}/close", data={"disposition": "resolved"}, headers=headers
    )
    assert closed.status_code == 200 and 'data-state="closed"' in closed.text
    assert 'id="reply"' not in closed.text

    status = app_client.post("/console/status", data={"status": "online"}, headers=headers)
    assert status.status_code == 200 and 'value="online" selected' in status.text


def test_transfer_to_another_agent_and_unknown_targets(app_client: TestClient) -> None:
    first, secret = create_console_user("first@example.com")
    second, _ = create_console_user("second@example.com", status="online")
    conversation_id = escalated_conversation("+33622222222")
    assign(conversation_id, first)
    csrf = log_in(app_client, "first@example.com", secret)
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    page = app_client.get(f"/console/fragments/conversations/{conversation_id}?part=panel", headers=headers)
    assert f'value="user:{second}"' in page.text and f'value="user:{first}"' not in page.text
    bad = app_client.post(f"/console/conversations/{conversation_id}/transfer", data={"target": "x"}, headers=headers)
    assert bad.status_code == 422
    moved = app_client.post(
        f"/console/conversations/{conversation_id}/transfer", data={"target": f"user:{second}"}, headers=headers
    )
    assert moved.status_code == 200 and conversation_state(conversation_id) == ("human", second)


def test_segment_counter_uses_the_channel_encoding(app_client: TestClient) -> None:
    headers = auth_headers("agent")
    gsm = app_client.get("/console/fragments/counter", params={"body": "a" * 161}, headers=headers)
    assert "161 characters · GSM-7 · 2 segments" in gsm.text
    ucs = app_client.get("/console/fragments/counter", params={"body": "Ça va 🙂"}, headers=headers)
    assert "UCS-2 · 1 segment ·" in ucs.text


def test_supervisor_view_shows_live_figures(app_client: TestClient) -> None:
    create_console_user("sup@example.com", status="offline")
    escalated_conversation("+33633333333")
    page = app_client.get("/console/supervisor", headers={**HTML, **auth_headers("analyst")})
    assert page.status_code == 200
    assert 'id="fig-queue">1<' in page.text
    assert '<th scope="row">sup</th><td data-label="Status">offline</td>' in page.text
    assert '<th scope="row">No team</th><td data-label="Members">0</td><td data-label="Waiting">1</td>' in page.text
    assert "Bot containment" in page.text and 'hx-trigger="console-event from:body' in page.text


def test_enrolment_page_and_pwa_files_are_public(app_client: TestClient) -> None:
    assert "Set up two-factor authentication" in app_client.get("/console/enrol").text
    manifest = app_client.get("/console/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["display"] == "standalone" and body["start_url"] == "/console"
    assert {i["sizes"] for i in body["icons"]} >= {"192x192", "512x512"}
    for icon in body["icons"]:
        assert app_client.get(icon["src"]).status_code == 200
    worker = app_client.get("/console/sw.js")
    assert worker.headers["service-worker-allowed"] == "/console" and "showNotification" in worker.text
    assert app_client.get("/console/static/..%2Fsecret.py").status_code == 404
    assert app_client.get("/console/static/missing.js").status_code == 404
