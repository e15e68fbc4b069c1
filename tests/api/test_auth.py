"""Console log-in with TOTP, recovery codes, CSRF on cookie sessions, API keys shown once; the
hardening of issue 15: throttling with lockouts, single-use codes, constant-time log-in, audited
failures, re-enrolment that needs the current factor, CSRF only in the header."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import accounts, db
from core.models import ApiKey, AuditEntry, User
from core.redis import get_redis
from core.security import totp
from core.security.throttle import CLIENT_IP, Throttle
from core.settings import get_settings
from tests.helpers import auth_headers

PASSWORD = "correct horse battery"


def _user(email: str, role: str) -> int:
    with db.session_scope() as session:
        return accounts.create_user(session, email=email, password=PASSWORD, role=role).id


def _set_role(email: str, role: str) -> None:
    with db.session_scope() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        user.role = role


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
    _set_role("boss@example.com", "analyst")  # analysts need no second factor by default
    login = app_client.post("/api/v1/auth/login", json={"email": "boss@example.com", "password": PASSWORD}).json()
    assert not login["needs_second_factor"]
    assert app_client.get("/api/v1/auth/me").status_code == 200
    body = {"name": "x", "role": "agent"}
    assert app_client.post("/api/v1/apikeys", json=body).status_code == 403  # analyst, and no CSRF token
    _set_role("boss@example.com", "admin")
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


# ---- issue 15: hardening -------------------------------------------------------------------


def _enrolled(email: str, role: str = "agent") -> tuple[str, list[str]]:
    """A user with a confirmed authenticator; returns its secret and recovery codes (committed)."""
    enrolment = totp.new_enrolment(email)
    with db.session_scope() as session:
        user = accounts.create_user(session, email=email, password=PASSWORD, role=role)
        user.totp_secret = enrolment.secret
        user.recovery_codes = totp.hash_recovery_codes(enrolment.recovery_codes)
    return enrolment.secret, list(enrolment.recovery_codes)


def _log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:  # the test client's response
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _audit(action: str) -> list[AuditEntry]:
    with db.session_scope() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        session.expunge_all()
        return list(rows)


def test_replacing_the_factor_needs_password_and_current_code_and_keeps_the_old_one(app_client: TestClient) -> None:
    """Finding 4: a logged-in session alone could replace (and first unconfirm) the user's factor."""
    secret, recovery = _enrolled("agent@example.com")
    _log_in(app_client, "agent@example.com")
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    bare = app_client.post("/api/v1/auth/2fa/enrol")
    assert bare.status_code == 422 and [e["field"] for e in bare.json()["errors"]] == ["password", "code"]
    wrong = app_client.post("/api/v1/auth/2fa/enrol", json={"password": "not the password", "code": recovery[0]})
    assert wrong.status_code == 401
    with db.session_scope() as session:
        user = session.scalars(select(User).where(User.email == "agent@example.com")).one()
        assert user.totp_secret == secret and user.totp_pending_secret is None

    enrol = app_client.post("/api/v1/auth/2fa/enrol", json={"password": PASSWORD, "code": recovery[0]})
    assert enrol.status_code == 200
    new_secret = pyotp.parse_uri(enrol.json()["provisioning_uri"]).secret
    # until confirmed, the old factor is the one that logs in (another browser, an old recovery code)
    with TestClient(app_client.app) as other:
        _log_in(other, "agent@example.com")
        assert other.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(new_secret).now()}).status_code == 401
        assert other.post("/api/v1/auth/2fa/verify", json={"code": recovery[1]}).status_code == 200

        csrf = _log_in(app_client, "agent@example.com").json()["csrf_token"]
        assert app_client.post("/api/v1/auth/2fa/verify", json={"code": recovery[2]}).status_code == 200
        confirm = app_client.post(
            "/api/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(new_secret).now()}, headers={"X-CSRF-Token": csrf}
        )
        assert confirm.status_code == 200
        assert other.get("/api/v1/auth/me").status_code == 401  # the other browser is logged out
        assert app_client.get("/api/v1/auth/me").status_code == 200
    with db.session_scope() as session:
        user = session.scalars(select(User).where(User.email == "agent@example.com")).one()
        assert user.totp_secret == new_secret and user.totp_pending_secret is None
    _log_in(app_client, "agent@example.com")
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": recovery[3]}).status_code == 401  # old set gone
    assert [e.diff["replacing"] for e in _audit("auth.2fa.enrol")] == [True]
    assert [e.diff for e in _audit("auth.2fa.confirm")] == [{"sessions_ended": 2}]  # the first session, the other


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(app_client: TestClient) -> None:
    """Finding 5: 100 wrong passwords, then the right one worked."""
    _user("m@example.com", "marketer")
    for _ in range(5):
        assert _log_in(app_client, "m@example.com", "wrong password!").status_code == 401
    locked = _log_in(app_client, "m@example.com")
    assert locked.status_code == 429 and locked.headers["content-type"] == "application/problem+json"
    assert 0 < int(locked.headers["retry-after"]) <= 30
    # another account from the same address is not locked by this one
    _user("other@example.com", "analyst")
    assert _log_in(app_client, "other@example.com").status_code == 200
    failed = _audit("auth.login.failed")
    assert len(failed) == 5 and {e.diff["reason"] for e in failed} == {"wrong password"}
    assert all(e.actor_type == "user" and e.ip == "testclient" for e in failed)
    lockouts = _audit("auth.lockout")
    assert [(e.diff["scope"], e.diff["seconds"]) for e in lockouts] == [("account", 30)]


def test_a_success_resets_the_account_counter(app_client: TestClient) -> None:
    _user("m@example.com", "marketer")
    for _ in range(4):
        _log_in(app_client, "m@example.com", "wrong password!")
    assert _log_in(app_client, "m@example.com").status_code == 200
    for _ in range(4):
        assert _log_in(app_client, "m@example.com", "wrong password!").status_code == 401
    assert _log_in(app_client, "m@example.com").status_code == 200


def test_many_failures_from_one_address_lock_it_for_every_account(app_client: TestClient) -> None:
    _user("m@example.com", "marketer")
    limiter = Throttle(get_redis(get_settings()))
    for _ in range(CLIENT_IP.limit - 1):  # 49 failures on other accounts, counted without 49 argon2 hashes
        limiter.fail(CLIENT_IP, "testclient")
    assert _log_in(app_client, "nobody@example.com", "guess guess guess").status_code == 401
    refused = _log_in(app_client, "m@example.com")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert [e.diff["scope"] for e in _audit("auth.lockout")] == ["ip"]


def test_unknown_accounts_fail_like_wrong_passwords_and_are_audited(app_client: TestClient) -> None:
    """Finding 5: 4.6 ms for an unknown account against 242 ms for a wrong password."""
    _user("m@example.com", "marketer")

    def median_ms(email: str) -> tuple[float, Any]:
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            answer = _log_in(app_client, email, "wrong password!")
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples), answer

    known_ms, known = median_ms("m@example.com")
    unknown_ms, unknown = median_ms("ghost@example.com")
    assert known.status_code == unknown.status_code == 401
    assert known.json()["detail"] == unknown.json()["detail"] == "wrong e-mail or password"
    assert unknown_ms > known_ms * 0.5, (unknown_ms, known_ms)  # the same argon2 work either way
    anonymous = [e for e in _audit("auth.login.failed") if e.actor_type == "anonymous"]
    assert len(anonymous) == 3 and anonymous[0].actor_id == "anonymous"
    assert anonymous[0].diff == {"reason": "unknown account"} and anonymous[0].ip == "testclient"
    csv = app_client.get("/api/v1/audit/export.csv", headers=auth_headers("admin")).text
    assert "wrong password!" not in csv and "ghost@example.com" not in csv


def test_a_totp_code_is_accepted_once(app_client: TestClient) -> None:
    """Finding 5: a TOTP code was accepted twice."""
    secret, _ = _enrolled("agent@example.com")
    code = pyotp.TOTP(secret).now()
    _log_in(app_client, "agent@example.com")
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": code}).status_code == 200
    app_client.post("/api/v1/auth/logout")
    _log_in(app_client, "agent@example.com")
    replay = app_client.post("/api/v1/auth/2fa/verify", json={"code": code})
    assert replay.status_code == 401 and replay.json()["detail"] == "wrong or expired code"
    assert app_client.get("/api/v1/auth/me").status_code == 401
    assert [e.diff["reason"] for e in _audit("auth.2fa.failed")] == ["replayed code"]


def test_the_second_factor_gives_the_session_a_new_token(app_client: TestClient) -> None:
    """A password-only token (seen, logged or planted before the second factor) must not open the
    verified session: the cookie is renewed at that step, the CSRF token kept."""
    secret, _ = _enrolled("agent@example.com")
    login = _log_in(app_client, "agent@example.com")
    pending = app_client.cookies.get("relais_session")
    assert pending
    ok = app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200
    verified = app_client.cookies.get("relais_session")
    assert verified and verified != pending
    assert app_client.get("/api/v1/auth/me").status_code == 200
    with TestClient(app_client.app) as other:
        other.cookies.set("relais_session", pending)
        assert other.get("/api/v1/auth/me").status_code == 401
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert app_client.post("/api/v1/auth/password", headers=csrf, json={}).status_code == 422  # CSRF kept


def test_five_wrong_codes_lock_the_second_factor(app_client: TestClient) -> None:
    """Finding 5: 300 wrong TOTP codes on one session, then the right one worked."""
    secret, _ = _enrolled("agent@example.com")
    _log_in(app_client, "agent@example.com")
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert app_client.post("/api/v1/auth/2fa/verify", json={"code": wrong}).status_code == 401
    locked = app_client.post("/api/v1/auth/2fa/verify", json={"code": right})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    # a new session of the same user is locked too: the count belongs to the user
    with TestClient(app_client.app) as other:
        assert _log_in(other, "agent@example.com").status_code == 200
        assert other.post("/api/v1/auth/2fa/verify", json={"code": right}).status_code == 429
    assert len(_audit("auth.2fa.failed")) == 5
    assert [e.diff["scope"] for e in _audit("auth.lockout")] == ["2fa"]


def test_csrf_token_in_the_query_string_is_refused(app_client: TestClient) -> None:
    _user("boss@example.com", "admin")
    _set_role("boss@example.com", "analyst")
    csrf = _log_in(app_client, "boss@example.com").json()["csrf_token"]
    _set_role("boss@example.com", "admin")
    body = {"name": "x", "role": "agent"}
    in_query = app_client.post("/api/v1/apikeys", params={"csrf_token": csrf}, json=body)
    assert in_query.status_code == 403 and "CSRF" in in_query.json()["detail"]
    assert app_client.post("/api/v1/apikeys", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_change_own_password_checks_the_current_one_and_ends_other_sessions(app_client: TestClient) -> None:
    _user("ana@example.com", "analyst")
    csrf = _log_in(app_client, "ana@example.com").json()["csrf_token"]
    with TestClient(app_client.app) as other:
        _log_in(other, "ana@example.com")
        headers = {"X-CSRF-Token": csrf}
        bad = {"current_password": "not it at all", "new_password": "a brand new password"}
        assert app_client.post("/api/v1/auth/password", json=bad, headers=headers).status_code == 401
        short = {"current_password": PASSWORD, "new_password": "short"}
        too_short = app_client.post("/api/v1/auth/password", json=short, headers=headers)
        assert too_short.status_code == 422 and too_short.json()["errors"][0]["field"] == "password"
        good = {"current_password": PASSWORD, "new_password": "a brand new password"}
        assert app_client.post("/api/v1/auth/password", json=good, headers=headers).status_code == 204
        assert app_client.get("/api/v1/auth/me").status_code == 200  # this session stays
        assert other.get("/api/v1/auth/me").status_code == 401  # the other one ended
    assert _log_in(app_client, "ana@example.com").status_code == 401
    assert _log_in(app_client, "ana@example.com", "a brand new password").status_code == 200
    assert _audit("user.password.change")[0].diff == {"sessions_ended": 1}
    assert _audit("user.password.change.failed")[0].diff == {"reason": "wrong current password"}
