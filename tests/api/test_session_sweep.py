"""Walk every guarded route with a console session that is not (yet) allowed to use it.

A password without the second factor gives a *pending* session: it may finish the log-in and
nothing else, so every guarded route answers 401 to it, whatever the method and even with its CSRF
token. A temporary password an administrator set reaches only its own change (``PASSWORD_CHANGE_PATHS``):
every other guarded route answers 403. Both hold for a route added later, since the table is read
from the app.
"""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from api.deps import CSRF_HEADER, PASSWORD_CHANGE_PATHS
from core import accounts, db
from core.models import User
from core.security import totp
from tests.api.test_rbac import _guards, _routes, _streams, _url

PASSWORD = "correct horse battery"


def _admin(email: str, *, enrolled: bool, must_change: bool) -> str | None:
    with db.session_scope() as session:
        user: User = accounts.create_user(session, email=email, password=PASSWORD, role="admin")
        user.password_must_change = must_change
        if enrolled:
            user.totp_secret = totp.new_enrolment(email).secret
        return user.totp_secret


def _requests() -> list[tuple[str, str, str]]:
    return [(method, route.path, _url(route.path))
            for route in _routes() if list(_guards(route.dependant)) and not _streams(route)
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"})]


def test_a_session_without_its_second_factor_reaches_no_guarded_route(app_client: TestClient) -> None:
    _admin("pending@example.com", enrolled=True, must_change=False)
    login = app_client.post("/api/v1/auth/login", json={"email": "pending@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["needs_second_factor"]
    headers = {CSRF_HEADER: login.json()["csrf_token"], "accept": "application/json"}
    reached = [f"{method} {path}: {response.status_code}" for method, path, url in _requests()
               if (response := app_client.request(method, url, json={}, headers=headers)).status_code != 401]
    assert reached == []


def test_a_temporary_password_reaches_only_its_change(app_client: TestClient) -> None:
    secret = _admin("temporary@example.com", enrolled=True, must_change=True)
    assert secret is not None
    login = app_client.post("/api/v1/auth/login", json={"email": "temporary@example.com", "password": PASSWORD})
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    headers = {CSRF_HEADER: login.json()["csrf_token"], "accept": "application/json"}
    reached = [f"{method} {path}: {response.status_code}" for method, path, url in _requests()
               if url not in PASSWORD_CHANGE_PATHS
               and (response := app_client.request(method, url, json={}, headers=headers)).status_code != 403]
    assert reached == []


def test_every_state_change_with_a_session_cookie_needs_the_csrf_header(app_client: TestClient) -> None:
    secret = _admin("admin@example.com", enrolled=True, must_change=False)
    assert secret is not None
    app_client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
    assert app_client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    unsafe = [(method, path, url) for method, path, url in _requests() if method not in ("GET", "HEAD", "OPTIONS")]
    assert unsafe
    for header in ({}, {CSRF_HEADER: "forged"}):
        reached = [f"{method} {path}: {response.status_code}" for method, path, url in unsafe
                   if (response := app_client.request(method, url, json={}, headers={"accept": "application/json",
                                                                                      **header})).status_code != 403]
        assert reached == []
    assert app_client.get("/api/v1/auth/me").status_code == 200  # the session itself is fine
