"""Console log-in with TOTP, recovery codes, CSRF on cookie sessions, API keys shown once."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from core import accounts, db
from core.models import ApiKey
from tests.helpers import auth_headers

PASSWORD = "correct horse battery"


def _user(email: str, role: str) -> None:
    with db.session_scope() as session:
        accounts.create_user(session, email=email, password=PASSWORD, role=role)


def test_agent_must_enrol_totp_then_log_in_with_code(app_client: TestClient) -> None:
    _user("agent@example.com", "agent")
    login = app_client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["needs_second_factor"] and login.json()["must_enrol"]
    assert app_client.get("/api/v1/auth/me").status_code == 401  # not verified yet
    enrol = app_client.post("/api/v1/auth/2fa/enrol").json()
    assert enrol["provisioning_uri"].startswith("otpauth://totp/")
    assert "<svg" in enrol["qr_svg"] and len(enrol["recovery_codes"]) == 8
    secret = pyotp.parse_uri(enrol["provisioning_uri"]).secret
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": "000000"}).status_code == 401
    ok = app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200 and ok.json()["role"] == "agent"
    assert app_client.get("/api/v1/auth/me").json()["name"] == "agent@example.com"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie

    # next log-in: a recovery code works once
    app_client.post("/api/v1/auth/logout")
    app_client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    code = enrol["recovery_codes"][0]
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": code}).status_code == 200
    app_client.post("/api/v1/auth/logout")
    app_client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": code}).status_code == 401


def test_wrong_password_is_401(app_client: TestClient) -> None:
    _user("m@example.com", "marketer")
    bad = app_client.post("/api/v1/auth/login", json={"email": "m@example.com", "password": "wrong password!"})
    assert bad.status_code == 401


def test_cookie_session_needs_csrf_token_for_changes(app_client: TestClient) -> None:
    _user("boss@example.com", "admin")
    with db.session_scope() as session:
        user = accounts.authenticate_password(session, email="boss@example.com", password=PASSWORD)
        user.role = "analyst"  # analysts need no second factor by default
    login = app_client.post("/api/v1/auth/login", json={"email": "boss@example.com", "password": PASSWORD}).json()
    assert not login["needs_second_factor"]
    assert app_client.get("/api/v1/auth/me").status_code == 200
    body = {"name": "x", "role": "agent"}
    assert app_client.post("/api/v1/apikeys", json=body).status_code == 403  # analyst, and no CSRF token
    with db.session_scope() as session:
        accounts.authenticate_password(session, email="boss@example.com", password=PASSWORD).role = "admin"
    no_token = app_client.post("/api/v1/apikeys", json=body)
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    with_token = app_client.post("/api/v1/apikeys", json=body, headers={"X-CSRF-Token": login["csrf_token"]})
    assert with_token.status_code == 201


def test_api_key_is_shown_once_stored_hashed_and_revocable(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    created = app_client.post("/api/v1/apikeys", json={"name": "crm", "role": "marketer"}, headers=admin)
    assert created.status_code == 201
    secret = created.json()["key"]
    with db.session_scope() as session:
        stored = session.get(ApiKey, created.json()["id"])
        assert stored is not None and secret not in stored.key_hash
    listed = app_client.get("/api/v1/apikeys", headers=admin).json()
    assert all("key" not in item for item in listed)
    mine = {"Authorization": f"Bearer {secret}"}
    assert app_client.get("/api/v1/auth/me", headers=mine).json()["role"] == "marketer"
    assert app_client.delete(f"/api/v1/apikeys/{created.json()['id']}", headers=admin).status_code == 200
    assert app_client.get("/api/v1/auth/me", headers=mine).status_code == 401


def test_changes_are_audited_with_actor_and_ip(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    app_client.post(
        "/api/v1/users", json={"email": "new@example.com", "password": PASSWORD, "role": "agent"}, headers=admin
    )
    entries = app_client.get("/api/v1/audit", params={"action": "user.create"}, headers=admin).json()
    assert entries["total"] == 1
    entry = entries["items"][0]
    assert entry["actor_type"] == "api_key" and entry["ip"] and entry["target_type"] == "user"
    csv = app_client.get("/api/v1/audit/export.csv", headers=admin)
    assert csv.headers["content-type"].startswith("text/csv") and "user.create" in csv.text
    assert "new@example.com" not in csv.text  # PII stays out of the log
