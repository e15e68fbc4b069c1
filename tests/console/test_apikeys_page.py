"""The console's API keys page (admins): the list with role, creator, last use and state; a key
created there works at once and its secret is shown in that one answer; revoking refuses it at
once; both are audited as the API's; a demoted or deactivated creator's keys stop working."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from core import accounts, db
from core.models import AuditEntry
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _row(page: str, key_id: int) -> str:
    return page.split(f'data-key="{key_id}"', 1)[1].split("</tr>", 1)[0]


def _audited(key_id: int) -> list[tuple[str, str, dict[str, object]]]:
    with db.session_scope() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "api_key", AuditEntry.target_id == str(key_id))
        )
        return [(r.actor_name, r.action, r.diff) for r in rows]


def test_admin_creates_a_key_sees_it_once_and_revokes_it(app_client: TestClient) -> None:
    admin_id, secret = create_console_user("boss@example.com", role="admin")
    csrf = log_in(app_client, "boss@example.com", secret)
    headers = {**HTMX, "X-CSRF-Token": csrf}

    page = app_client.get("/console/apikeys", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'href="/console/apikeys" aria-current="page"' in page.text
    assert "No API key yet." in page.text

    assert app_client.post("/console/apikeys", data={"name": "x", "role": "analyst"}, headers=HTMX).status_code == 403
    created = app_client.post("/console/apikeys", data={"name": " Shopify  sync ", "role": "marketer"}, headers=headers)
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    shown = re.search(r'id="apikey-value" readonly value="(rls_[^"]+)"', created.text)
    assert shown is not None
    assert "you will not see it again" in created.text
    assert 'hx-swap-oob="true"' in created.text  # the form comes back empty
    key = shown.group(1)
    me = app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json() == {"kind": "api_key", "id": me.json()["id"], "name": "Shopify sync", "role": "marketer"}
    key_id = me.json()["id"]

    again = app_client.get("/console/apikeys", headers=HTML).text
    assert key not in again  # shown once
    row = _row(again, key_id)
    assert "Shopify sync" in row and "marketer" in row and "by boss@example.com" in row
    assert 'data-state="active"' in row and "<time" in row  # last used: the /auth/me call above
    assert f'href="/console/audit?on=api_key:{key_id}"' in row

    revoked = app_client.post(f"/console/apikeys/{key_id}/revoke", headers=headers)
    assert revoked.status_code == 200
    assert "The key “Shopify sync” is revoked" in revoked.text
    assert 'data-state="revoked"' in _row(revoked.text, key_id) and "Revoke</button>" not in _row(revoked.text, key_id)
    assert app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert app_client.post(f"/console/apikeys/{key_id}/revoke", headers=headers).status_code == 200  # no second row
    assert _audited(key_id) == [
        ("boss@example.com", "apikey.create", {"role": "marketer", "label": "Shopify sync"}),
        ("boss@example.com", "apikey.revoke", {"role": "marketer", "label": "Shopify sync"}),
    ]
    with db.session_scope() as session:
        assert accounts.principal_from_api_key(session, key) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "apikey.create")).one()
        assert entry.actor_id == str(admin_id)


def test_a_refused_key_is_said_in_words_and_nothing_is_created(app_client: TestClient) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    headers = {**HTMX, "X-CSRF-Token": log_in(app_client, "boss@example.com", secret)}
    nameless = app_client.post("/console/apikeys", data={"name": "  ", "role": "analyst"}, headers=headers)
    assert nameless.status_code == 422
    assert nameless.json()["errors"] == [
        {"field": "name", "message": "give the key a name you will recognise it by, e.g. the integration that uses it"}
    ]
    no_role = app_client.post("/console/apikeys", data={"name": "crm", "role": "owner"}, headers=headers)
    assert no_role.status_code == 422 and no_role.json()["errors"][0]["field"] == "role"
    assert "unknown role 'owner'" in no_role.json()["detail"]
    missing = app_client.post("/console/apikeys/424242/revoke", headers=headers)
    assert missing.status_code == 404 and missing.json()["detail"] == "API key 424242 not found"
    # the API says the same in the same words (one domain function)
    api = app_client.post("/api/v1/apikeys", json={"name": " ", "role": "agent"}, headers=auth_headers("admin"))
    assert api.status_code == 422 and api.json()["errors"][0]["field"] == "name"
    assert ">1 key</h2>" in app_client.get("/console/apikeys", headers=HTML).text  # the test's own bearer key


def test_the_keys_of_a_demoted_admin_stop_until_they_are_admin_again(app_client: TestClient) -> None:
    kim_id, kim_secret = create_console_user("kim@example.com", role="admin")
    _, secret = create_console_user("boss@example.com", role="admin")
    kim = TestClient(app_client.app)
    kim_headers = {**HTMX, "X-CSRF-Token": log_in(kim, "kim@example.com", kim_secret)}
    made = kim.post("/console/apikeys", data={"name": "kim's script", "role": "admin"}, headers=kim_headers)
    key = re.search(r'id="apikey-value" readonly value="(rls_[^"]+)"', made.text)
    assert key is not None
    bearer = {"Authorization": f"Bearer {key.group(1)}"}
    assert app_client.get("/api/v1/users", headers=bearer).status_code == 200

    headers = {**HTMX, "X-CSRF-Token": log_in(app_client, "boss@example.com", secret)}
    demoted = app_client.post(f"/console/users/{kim_id}/role", data={"role": "marketer"}, headers=headers)
    assert demoted.status_code == 200, demoted.text
    assert "The 1 API key they created stop working while they are not an admin." in demoted.text
    assert app_client.get("/api/v1/users", headers=bearer).status_code == 401
    listed = app_client.get("/console/apikeys", headers=HTML).text
    assert "kim@example.com who created it is no longer an admin" in listed and 'data-state="suspended"' in listed

    assert app_client.post(f"/console/users/{kim_id}/role", data={"role": "admin"}, headers=headers).status_code == 200
    assert app_client.get("/api/v1/users", headers=bearer).status_code == 200


def test_only_admins_get_the_keys_page(app_client: TestClient) -> None:
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    refused = app_client.get("/console/apikeys", headers=HTML)
    assert refused.status_code == 403 and "/console/campaigns" in refused.text
    assert 'href="/console/apikeys"' not in app_client.get("/console/campaigns", headers=HTML).text
