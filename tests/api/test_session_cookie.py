"""The console session cookie's flags, on both cookies a log-in sets (the password step and, renewed, the second
factor's): ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no cross-site POST carries it), ``Secure`` over
https and always in production (a proxy may speak http to Relais while the browser speaks https), path ``/``
and a 12-hour life; a log-out clears it."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import SESSION_COOKIE
from core.settings import Settings
from tests.console.helpers import PASSWORD, create_console_user


def _flags(header: str) -> dict[str, str | bool]:
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie[SESSION_COOKIE]
    return {"httponly": bool(morsel["httponly"]), "secure": bool(morsel["secure"]),
            "samesite": morsel["samesite"].lower(), "path": morsel["path"], "max-age": morsel["max-age"]}  # fmt: skip


@pytest.mark.parametrize(("env", "base_url", "secure"), [
    ("development", "https://relais.example", True),
    ("production", "http://relais.example", True),
    ("development", "http://testserver", False),  # a laptop on http://localhost: a Secure cookie would not come back
])  # fmt: skip
def test_both_log_in_cookies_carry_the_flags(runtime: Settings, env: str, base_url: str, secure: bool) -> None:
    settings = runtime.model_copy(update={"env": env, "channel": "vonage" if env == "production" else runtime.channel})
    _, secret = create_console_user("flags@example.com", role="agent")
    with TestClient(create_app(settings), base_url=base_url) as client:
        password = client.post("/api/v1/auth/login", json={"email": "flags@example.com", "password": PASSWORD})
        assert password.status_code == 200, password.text
        # sent by hand: a Secure cookie does not go back over http (the proxy's https is the browser's)
        pending = {"Cookie": f"{SESSION_COOKIE}={SimpleCookie(password.headers['set-cookie'])[SESSION_COOKIE].value}"}
        code = client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()}, headers=pending)
        assert code.status_code == 200, code.text
        verified = {"Cookie": f"{SESSION_COOKIE}={SimpleCookie(code.headers['set-cookie'])[SESSION_COOKIE].value}"}
        expected = {"httponly": True, "secure": secure, "samesite": "lax", "path": "/", "max-age": str(12 * 3600)}
        assert _flags(password.headers["set-cookie"]) == expected
        assert _flags(code.headers["set-cookie"]) == expected
        assert client.get("/api/v1/auth/me", headers=verified).status_code == 200
        out = client.post("/api/v1/auth/logout", headers=verified)
        assert out.status_code == 204 and SimpleCookie(out.headers["set-cookie"])[SESSION_COOKIE].value == ""
        assert client.get("/api/v1/auth/me", headers=verified).status_code == 401
