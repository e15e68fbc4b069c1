"""Credentials an anonymous caller sends are compared in constant time and, whatever their bytes, a
wrong one is refused as wrong: a header byte above 0x7f (read as latin-1), a code in Arabic-Indic
digits or a 5,000-digit id once reached ``hmac.compare_digest`` or ``int()`` as they were and
answered 500 (the server's own error) on five public routes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core import accounts, db
from core.settings import Settings, get_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def client(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RELAIS_SHOPIFY_WEBHOOK_SECRET", "shop-secret")
    monkeypatch.setenv("RELAIS_CONTACT_SYNC_WEBHOOK_SECRET", "sync-secret")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as test_client:
        yield test_client


def test_non_ascii_signatures_and_tokens_are_wrong_not_errors(client: TestClient) -> None:
    shopify = client.post("/webhooks/shopify/orders/create", content=b"{}",
                          headers={"X-Shopify-Hmac-Sha256": b"\xe9t\xe9"})
    assert shopify.status_code == 401
    sync = client.post("/api/v1/contacts/sync/webhook", content=b"{}",
                       headers={"Relais-Signature": b"t=%d,v1=\xe9" % int(time.time())})
    assert sync.status_code == 401
    for stamp in (b"9" * 4000, "\u0661\u0667".encode() + b"0" * 8, b"1_700_000_000", b"-1", b"NaN"):
        # 4,000 digits: the age check's float subtraction raised OverflowError (500) before the MAC was read
        sync = client.post("/api/v1/contacts/sync/webhook", content=b"{}", headers={"Relais-Signature": b"t=" + stamp})
        assert sync.status_code == 401
    for token in (b"1.\xe9", ("\u0661" * 3 + ".x").encode(), b"9" * 5000 + b".x"):
        inbox = client.get("/api/v1/simulator/messages", params={"phone": "+33612345678"},
                           headers={"X-Simulator-Token": token})
        assert inbox.status_code == 403
    for token in ("1-\u00e9\u00e9", "\u0661-abc", "9" * 5000 + "-abc"):
        assert client.get(f"/api/v1/opt-out/{token}").status_code == 404


def test_a_code_in_other_digits_is_a_wrong_code(client: TestClient) -> None:
    with db.session_scope() as session:
        accounts.create_user(session, email="agent@example.com", password=PASSWORD, role="agent")
    client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert client.post("/api/v1/auth/2fa/enrol").status_code == 200
    assert client.post("/api/v1/auth/2fa/verify", json={"code": "\u0661" * 6}).status_code == 401
