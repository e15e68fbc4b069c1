"""User lifecycle for admins: deactivate/reactivate, reset password or 2FA, end sessions — each
takes effect at once on the user's sessions and keys, and each is audited."""

from __future__ import annotations

from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import accounts, db
from core.models import AuditEntry, User
from core.security import totp
from tests.helpers import auth_headers

PASSWORD = "correct horse battery"


def _user(email: str, role: str = "analyst") -> int:
    with db.session_scope() as session:
        return accounts.create_user(session, email=email, password=PASSWORD, role=role).id


def _log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:  # the test client's response
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _actions(user_id: int) -> list[str]:
    with db.session_scope() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id))
        )
        return [row.action for row in rows]


def test_deactivated_user_loses_sessions_keys_and_log_in_until_reactivated(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    user_id = _user("ana@example.com")
    with db.session_scope() as session:
        _, key = accounts.create_api_key(session, name="ana's script", role="analyst", created_by=user_id)
    _log_in(app_client, "ana@example.com")
    assert app_client.get("/api/v1/auth/me").status_code == 200
    assert app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    out = app_client.post(f"/api/v1/users/{user_id}/deactivate", headers=admin)
    assert out.status_code == 200 and out.json()["is_active"] is False
    assert app_client.get("/api/v1/auth/me").status_code == 401
    assert app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    refused = _log_in(app_client, "ana@example.com")
    assert refused.status_code == 401 and refused.json()["detail"] == "wrong e-mail or password"

    assert app_client.post(f"/api/v1/users/{user_id}/reactivate", headers=admin).json()["is_active"] is True
    assert app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert _log_in(app_client, "ana@example.com").status_code == 200
    assert _actions(user_id) == ["auth.login", "user.deactivate", "auth.login.failed", "user.reactivate", "auth.login"]


def test_last_active_admin_cannot_be_deactivated(app_client: TestClient) -> None:
    admin_id = _user("boss@example.com", "admin")
    refused = app_client.post(f"/api/v1/users/{admin_id}/deactivate", headers=auth_headers("admin"))
    assert refused.status_code == 409 and "last active admin" in refused.json()["detail"]
    second = _user("deputy@example.com", "admin")
    assert app_client.post(f"/api/v1/users/{second}/deactivate", headers=auth_headers("admin")).status_code == 200


def test_admin_password_reset_ends_sessions_and_sets_a_temporary_password(app_client: TestClient) -> None:
    user_id = _user("ana@example.com")
    _log_in(app_client, "ana@example.com")
    short = app_client.post(
        f"/api/v1/users/{user_id}/password", json={"password": "short"}, headers=auth_headers("admin")
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    reset = app_client.post(
        f"/api/v1/users/{user_id}/password", json={"password": "temporary password 1"}, headers=auth_headers("admin")
    )
    assert reset.status_code == 200
    assert app_client.get("/api/v1/auth/me").status_code == 401
    assert _log_in(app_client, "ana@example.com").status_code == 401
    assert _log_in(app_client, "ana@example.com", "temporary password 1").status_code == 200
    assert "user.password.reset" in _actions(user_id)


def test_admin_2fa_reset_makes_the_user_enrol_again(app_client: TestClient) -> None:
    user_id = _user("agent@example.com", "agent")
    enrolment = totp.new_enrolment("agent@example.com")
    with db.session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.totp_secret = enrolment.secret
    _log_in(app_client, "agent@example.com")
    assert (
        app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(enrolment.secret).now()}).status_code == 200
    )

    reset = app_client.delete(f"/api/v1/users/{user_id}/2fa", headers=auth_headers("admin"))
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    assert app_client.get("/api/v1/auth/me").status_code == 401
    login = _log_in(app_client, "agent@example.com").json()
    assert login["needs_second_factor"] and login["must_enrol"]
    fresh = app_client.post("/api/v1/auth/2fa/enrol")  # no old factor to prove any more
    assert fresh.status_code == 200
    new_secret = pyotp.parse_uri(fresh.json()["provisioning_uri"]).secret
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(new_secret).now()}).status_code == 200
    assert "user.2fa.reset" in _actions(user_id)


def test_revoking_sessions_logs_the_user_out_everywhere(app_client: TestClient) -> None:
    user_id = _user("ana@example.com")
    _log_in(app_client, "ana@example.com")
    with TestClient(app_client.app) as other:
        _log_in(other, "ana@example.com")
        out = app_client.delete(f"/api/v1/users/{user_id}/sessions", headers=auth_headers("admin"))
        assert out.status_code == 200 and out.json() == {"sessions_ended": 2}
        assert other.get("/api/v1/auth/me").status_code == 401
    assert app_client.get("/api/v1/auth/me").status_code == 401
    with db.session_scope() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.sessions.revoke")).one()
        assert entry.actor_type == "api_key" and entry.diff == {"sessions_ended": 2}


def test_listing_shows_state_and_unknown_users_are_404(app_client: TestClient) -> None:
    _user("ana@example.com")
    listed = app_client.get("/api/v1/users", headers=auth_headers("admin")).json()
    assert listed[0]["is_active"] is True and listed[0]["totp_enabled"] is False
    assert app_client.post("/api/v1/users/999/deactivate", headers=auth_headers("admin")).status_code == 404


def test_a_temporary_password_must_be_replaced_before_anything_else(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    created = app_client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "password": "temporary pw 123", "role": "analyst"},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["password_must_change"] is True
    login = _log_in(app_client, "new@example.com", "temporary pw 123").json()
    assert login["must_change_password"] is True
    csrf = {"X-CSRF-Token": login["csrf_token"]}

    refused = app_client.get("/api/v1/campaigns")
    assert refused.status_code == 403 and refused.json()["title"] == "Password change required"
    page = app_client.get("/console/qa", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/password?next=%2Fconsole%2Fqa"
    form = app_client.get("/console/password", headers={"Accept": "text/html"})
    assert form.status_code == 200 and "temporary password" in form.text
    assert app_client.get("/api/v1/auth/me").status_code == 200

    change = {"current_password": "temporary pw 123", "new_password": "my very own password"}
    assert app_client.post("/api/v1/auth/password", json=change, headers=csrf).status_code == 204
    assert app_client.get("/api/v1/campaigns").status_code == 200
    assert app_client.get("/console/qa", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 200

    # an administrator's reset makes the new password temporary again
    user_id = created.json()["id"]
    reset = app_client.post(f"/api/v1/users/{user_id}/password", json={"password": "another temp 456"}, headers=admin)
    assert reset.json()["password_must_change"] is True
    _log_in(app_client, "new@example.com", "another temp 456")
    assert app_client.get("/api/v1/campaigns").status_code == 403
