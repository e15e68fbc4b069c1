"""Web push: a subscribed browser gets a correctly encrypted, VAPID-signed push for a new escalation.

The push service is a local fake on 127.0.0.1 that records what it receives; the test then plays
the browser: it decrypts the body (RFC 8291 aes128gcm) with the subscription's private key and
checks the VAPID JWT (RFC 8292) against the public key sent with it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.console import webpush
from api.deps import CSRF_HEADER
from core import db, users
from core.audit import SYSTEM
from core.models import AuditEntry
from core.rbac import Role
from core.redis import get_redis
from core.settings import Settings
from handoff.events import channel
from tests.console.helpers import create_console_user, escalated_conversation, log_in
from tests.helpers import auth_headers


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakePushService:
    """Records each POST; answers ``status`` (201 accepted, 410 gone)."""

    def __init__(self, status: int = 201) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        self.answers: list[tuple[int, dict[str, str]]] = []  # given first, one per POST: (status, headers)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer, headers = outer.answers.pop(0) if outer.answers else (status, {})
                self.send_response(answer)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.arrived.set()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePushService:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """The browser's half of a subscription: its ECDH key and auth secret."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": endpoint, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return dict(json.loads(plain))


def verify_vapid(authorization: str, audience: str) -> dict[str, Any]:
    """Check ``vapid t=<jwt>, k=<key>``: ES256 signature by k, audience, expiry; returns the claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    header, claims, signature = fields["t"].split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(fields["k"]))
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    assert json.loads(unb64(header))["alg"] == "ES256"
    body = dict(json.loads(unb64(claims)))
    assert body["aud"] == audience and body["exp"] > time.time() and str(body["sub"]).startswith("mailto:")
    return body


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


def test_a_subscribed_agent_gets_an_encrypted_push_for_an_escalation(
    outbound_to_loopback: None, app_client: TestClient, runtime: Settings, push_service: FakePushService
) -> None:
    agent = auth_headers("agent")
    key = app_client.get("/console/push/key", headers=agent).json()["public_key"]
    assert key == webpush.application_server_key(runtime) and len(unb64(key)) == 65

    browser = Browser()
    subscribed = app_client.post(
        "/console/push/subscriptions", json=browser.subscription(f"{push_service.url}/push/abc"), headers=agent
    )
    assert subscribed.status_code == 204

    deadline = time.monotonic() + 10  # the app's relay thread subscribes in its own time: publish once it listens
    while get_redis(runtime).pubsub_numsub(channel(get_redis(runtime)))[0][1] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    conversation_id = escalated_conversation("+33666666666")
    assert push_service.arrived.wait(10), "no push reached the fake push service"
    path, headers, body = push_service.received[0]
    assert path == "/push/abc" and headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    verify_vapid(headers["authorization"], push_service.url)
    assert unb64(headers["authorization"].split("k=")[1]) == unb64(key)
    payload = browser.decrypt(body)
    assert payload["url"] == f"/console/conversations/{conversation_id}?view=unassigned"
    assert payload["title"] == "New conversation waiting" and "human requested" in payload["body"]
    assert "+336" not in json.dumps(payload)  # no customer data leaves in a push


def test_gone_subscriptions_are_dropped_and_other_events_are_not_pushed(
    outbound_to_loopback: None, runtime: Settings
) -> None:
    relay = webpush.PushRelay(runtime)
    agent_id, _ = create_console_user("ana@example.com")
    with FakePushService(status=410) as gone:
        webpush.subscribe(
            runtime,
            webpush.Subscription(user_id=agent_id, endpoint=f"{gone.url}/x", **Browser().subscription("")["keys"]),
        )
        assert relay.handle(json.dumps({"kind": "conversation.closed", "conversation_id": 1})) == 0
        assert gone.received == []
        event = json.dumps({"kind": "conversation.escalated", "conversation_id": 2, "priority": 2, "reason": "x"})
        assert relay.handle(event) == 0  # sent, refused with 410
        assert len(gone.received) == 1 and webpush.subscriptions(runtime) == []
        assert relay.handle(event) == 0 and len(gone.received) == 1  # the same event is claimed once


def test_a_busy_push_service_is_asked_again_as_it_says(outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch,
                                                       runtime: Settings) -> None:
    """A push service's 429 lost the escalation's push; now it is asked again after its Retry-After (up to 2 s).
    A longer wait is not waited for, and a busy service's subscription is kept (only 404/410 drop it)."""
    slept: list[float] = []
    monkeypatch.setattr(webpush, "POLICY", replace(webpush.POLICY, sleep=slept.append))
    agent_id, _ = create_console_user("ana@example.com")
    with FakePushService() as busy:
        webpush.subscribe(
            runtime,
            webpush.Subscription(user_id=agent_id, endpoint=f"{busy.url}/x", **Browser().subscription("")["keys"]),
        )
        busy.answers = [(429, {"Retry-After": "1"})]
        assert webpush.notify_all(runtime, {"title": "t"}) == 1
        assert len(busy.received) == 2 and slept == [1.0]
        busy.answers = [(429, {"Retry-After": "60"})]
        assert webpush.notify_all(runtime, {"title": "t"}) == 0
        assert len(busy.received) == 3 and slept == [1.0] and len(webpush.subscriptions(runtime)) == 1


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:6379/x", "http://169.254.169.254/latest", "https://[::1]/push", "http://10.0.0.7/"]
)
def test_internal_push_endpoints_are_refused_with_422(app_client: TestClient, endpoint: str) -> None:
    response = app_client.post(
        "/console/push/subscriptions", json=Browser().subscription(endpoint), headers=auth_headers("agent")
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "endpoint"
    assert webpush.subscriptions(app_client.app.state.settings) == []  # type: ignore[attr-defined]


def test_a_stored_internal_endpoint_is_never_posted_to_and_is_dropped(
    runtime: Settings, push_service: FakePushService
) -> None:
    allowed = runtime.model_copy(update={"outbound_allow_private": True})  # saved while fakes were allowed
    keys = Browser().subscription("")["keys"]
    agent_id, _ = create_console_user("ana@example.com")
    webpush.subscribe(allowed, webpush.Subscription(user_id=agent_id, endpoint=f"{push_service.url}/x", **keys))
    assert webpush.notify_all(runtime, {"title": "t"}) == 0
    assert push_service.received == [] and webpush.subscriptions(runtime) == []


def test_an_agent_cannot_remove_a_colleagues_subscription(outbound_to_loopback: None, app_client: TestClient) -> None:
    """``POST /console/push/unsubscribe`` removed whatever endpoint it was given: an agent who saw a colleague's
    endpoint (a shared browser, a log) silenced the colleague's notifications. Only the caller's own is removed;
    the answer is 204 either way, so it tells nobody whether another's endpoint is registered."""
    settings = app_client.app.state.settings  # type: ignore[attr-defined]
    endpoint = {"endpoint": "http://127.0.0.1:9/push/ana-browser"}
    ana_id, ana_secret = create_console_user("ana@example.com")
    bob_id, bob_secret = create_console_user("bob@example.com")
    bob = TestClient(app_client.app)  # a browser of its own (session cookie)
    ana_csrf = {CSRF_HEADER: log_in(app_client, "ana@example.com", ana_secret)}
    bob_csrf = {CSRF_HEADER: log_in(bob, "bob@example.com", bob_secret)}
    subscription = Browser().subscription(endpoint["endpoint"])
    assert app_client.post("/console/push/subscriptions", json=subscription, headers=ana_csrf).status_code == 204

    assert bob.post("/console/push/unsubscribe", json=endpoint, headers=bob_csrf).status_code == 204
    assert [(s.user_id, s.kind) for s in webpush.subscriptions(settings)] == [(ana_id, "user")]  # still Ana's

    assert app_client.post("/console/push/unsubscribe", json=endpoint, headers=ana_csrf).status_code == 204
    assert webpush.subscriptions(settings) == []
    with db.session_scope() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "push.unsubscribe")).all()
        assert [(r.actor_type, r.actor_id) for r in rows] == [("user", str(ana_id))]  # Bob's try removed nothing
    assert bob_id != ana_id


def test_an_api_key_is_not_the_user_with_the_same_id(runtime: Settings) -> None:
    """Key ids and user ids are counted apart: the owner of a subscription is the pair (kind, id)."""
    keys = Browser().subscription("")["keys"]
    webpush.subscribe(runtime, webpush.Subscription(user_id=1, endpoint="https://push.example/a", **keys))
    assert not webpush.unsubscribe(runtime, "https://push.example/a", user_id=1, kind="api_key")
    assert not webpush.unsubscribe(runtime, "https://push.example/a", user_id=2)
    assert webpush.unsubscribe(runtime, "https://push.example/a", user_id=1)
    assert webpush.subscriptions(runtime) == []


def test_only_active_agents_and_admins_are_still_notified(runtime: Settings, push_service: FakePushService) -> None:
    """A browser keeps its subscription when its user leaves: a deactivated agent's phone, or a user moved to the
    marketing team, went on being told of every escalation. They are skipped (a reactivated agent is told again)."""
    allowed = runtime.model_copy(update={"outbound_allow_private": True})
    owners = {email: create_console_user(email)[0] for email in ("ana@x.example", "bob@x.example", "eve@x.example")}
    with db.session_scope() as session:
        users.deactivate(session, user_id=owners["bob@x.example"], actor=SYSTEM)
        users.change_role(session, user_id=owners["eve@x.example"], role=Role.MARKETER, actor=SYSTEM)
    for email, user_id in owners.items():
        keys = Browser().subscription("")["keys"]
        endpoint = f"{push_service.url}/{email}"
        webpush.subscribe(allowed, webpush.Subscription(user_id=user_id, endpoint=endpoint, **keys))
    assert webpush.notify_all(allowed, {"title": "t"}) == 1
    assert [path for path, _, _ in push_service.received] == ["/ana@x.example"]
    assert len(webpush.subscriptions(allowed)) == 3  # kept: Bob may come back
    with db.session_scope() as session:
        users.reactivate(session, user_id=owners["bob@x.example"], actor=SYSTEM)
    assert webpush.notify_all(allowed, {"title": "t"}) == 2


def test_every_host_sharing_the_secret_key_signs_with_the_same_key(runtime: Settings, tmp_path: Path) -> None:
    """Each host generated its own key file under its data directory: behind a load balancer a browser subscribed
    with one host's key and another host's relay signed with its own, which push services refuse."""
    secret = "a-deployment-secret-key-shared-by-every-host-0123456789"
    hosts = [runtime.model_copy(update={"data_dir": tmp_path / name, "secret_key": secret}) for name in ("a", "b")]
    assert webpush.application_server_key(hosts[0]) == webpush.application_server_key(hosts[1])
    rotated = runtime.model_copy(update={"data_dir": tmp_path / "a", "secret_key": secret + "-rotated"})
    assert webpush.application_server_key(rotated) != webpush.application_server_key(hosts[0])
    assert not any(path.suffix == ".pem" for path in tmp_path.rglob("*"))  # no key on any host's disk


def test_a_subscription_made_with_another_key_is_dropped_not_pushed(
    outbound_to_loopback: None, runtime: Settings
) -> None:
    agent_id, _ = create_console_user("ana@example.com")
    with FakePushService() as service:
        webpush.subscribe(
            runtime,
            webpush.Subscription(user_id=agent_id, endpoint=f"{service.url}/now", **Browser().subscription("")["keys"]),
        )
        keys = Browser().subscription("")["keys"]
        older = webpush.Subscription(user_id=agent_id, endpoint=f"{service.url}/old", **keys)
        get_redis(runtime).hset(webpush.SUBSCRIPTIONS_KEY, older.endpoint, json.dumps(older.__dict__))  # before keys
        assert webpush.notify_all(runtime, {"title": "t"}) == 1
        assert [path for path, _, _ in service.received] == ["/now"]
        assert [s.endpoint for s in webpush.subscriptions(runtime)] == [f"{service.url}/now"]


@pytest.mark.parametrize(("keys", "field"), [
    ({"p256dh": "!" * 30, "auth": b64(os.urandom(16))}, "keys.p256dh"),  # pywebpush: IndexError
    ({"p256dh": "A" * 87, "auth": b64(os.urandom(16))}, "keys.p256dh"),  # 65 bytes, no point of the curve
    ({"auth": "A" * 9}, "keys.auth"),  # not base64
    ({"auth": b64(os.urandom(8))}, "keys.auth"),  # an auth secret is 16 bytes
])
def test_keys_no_push_can_be_encrypted_to_are_refused(outbound_to_loopback: None, app_client: TestClient,
                                                      keys: dict[str, str], field: str) -> None:
    subscription = Browser().subscription("https://push.example.invalid/x")
    subscription["keys"].update(keys)
    answer = app_client.post("/console/push/subscriptions", json=subscription, headers=auth_headers("agent"))
    assert answer.status_code == 422 and [e["field"] for e in answer.json()["errors"]] == [field]
    assert webpush.subscriptions(app_client.app.state.settings) == []  # type: ignore[attr-defined]


def test_a_subscription_with_broken_keys_costs_the_others_nothing(runtime: Settings,
                                                                  push_service: FakePushService) -> None:
    """pywebpush raised IndexError or ValueError for such keys, which ended the loop over subscriptions: any agent
    who registered one (it was accepted) silenced the escalation pushes of every colleague after it. It is
    dropped, and the others are pushed."""
    allowed = runtime.model_copy(update={"outbound_allow_private": True})
    ana, bob = create_console_user("ana@x.example")[0], create_console_user("bob@x.example")[0]
    broken = webpush.Subscription(user_id=ana, endpoint=f"{push_service.url}/ana", p256dh="!" * 30, auth="A" * 22)
    get_redis(allowed).hset(webpush.SUBSCRIPTIONS_KEY, broken.endpoint, json.dumps(  # as stored before the check
        {**broken.__dict__, "server_key": webpush.application_server_key(allowed)}))
    browser = Browser()
    webpush.subscribe(allowed, webpush.Subscription(user_id=bob, endpoint=f"{push_service.url}/bob",
                                                    **browser.subscription("")["keys"]))
    assert webpush.notify_all(allowed, {"title": "t"}) == 1
    assert [path for path, _, _ in push_service.received] == ["/bob"]
    assert browser.decrypt(push_service.received[0][2]) == {"title": "t"}
    assert [s.endpoint for s in webpush.subscriptions(allowed)] == [f"{push_service.url}/bob"]
