"""Web push for the console PWA: VAPID keys per deployment, subscriptions, and the escalation relay.

* Keys: one EC P-256 key per deployment, derived from ``RELAIS_SECRET_KEY`` (HKDF-SHA256), so every API host and
  worker signs with the key the browser subscribed with; its public half is the browser's ``applicationServerKey``.
  It was a file generated on first use under each host's ``<data_dir>``: behind a load balancer a browser
  subscribed with one host's key and the relay of another host signed with its own, which push services refuse.
  A subscription records the key it was made with; one made with another key (before this, or before the secret
  key was rotated) can never be pushed to and is dropped, and the browser subscribes again.
* Subscriptions live in a Redis hash keyed by endpoint (a browser re-subscribes when it changes).
* :class:`PushRelay` listens to the console events and pushes ``conversation.escalated`` to every
  subscribed agent. Each API process runs one; a Redis ``SET NX`` per event makes exactly one
  process send it. Payloads carry no customer data (reason and priority only), encrypted with
  ``aes128gcm`` (RFC 8291) by ``pywebpush``.
* Endpoints are URLs a browser (or anyone with an agent session) chose: they must be public
  addresses when saved and are posted to through ``core.outbound_http`` (no SSRF).
* A push service answering 429 or 5xx is asked once more (:data:`POLICY`, ``core.retry``: its ``Retry-After`` up
  to 2 s, else a short backoff): an escalation's push is worth a moment, not the relay's queue. 404/410 drop the
  subscription, as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import select

from core import db, outbound_http
from core.accounts import key_suspension
from core.errors import ValidationFailed
from core.models import ApiKey, User
from core.outbound_http import OutboundBlocked, OutboundPolicy
from core.rbac import Role
from core.redis import get_redis
from core.retry import CallFailed, Failure, RetryPolicy, header, retry_after
from core.secrets_store import resolve_secrets
from core.settings import Settings
from handoff.events import channel

SUBSCRIPTIONS_KEY = "relais:console:push:subscriptions"
SENT_KEY = "relais:console:push:sent:"
_KEY_INFO = b"relais console web push VAPID P-256 key"
log = structlog.get_logger("relais.console.push")
#: a push service's 429 or 5xx: one more attempt, waiting at most 2 s (the relay pushes to the others meanwhile not)
POLICY = RetryPolicy(attempts=2, base=0.5, max_delay=2.0)


def vapid(settings: Settings) -> Vapid:
    """This deployment's VAPID key: the same on every host that shares the secret key."""
    return _derived_key(resolve_secrets(settings).secret_key)


@lru_cache(maxsize=4)
def _derived_key(secret_key: str) -> Vapid:
    """A P-256 private key from the secret: HKDF-SHA256 output reduced to a scalar in [1, n - 1]."""
    material = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=_KEY_INFO).derive(secret_key.encode())
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of the P-256 group
    scalar = int.from_bytes(material, "big") % (order - 1) + 1  # 48 bytes: the reduction's bias is negligible
    return Vapid(private_key=ec.derive_private_key(scalar, ec.SECP256R1()))


def application_server_key(settings: Settings) -> str:
    """The public key as the browser wants it: base64url of the uncompressed P-256 point."""
    raw = vapid(settings).public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Subscription:
    """A browser's push subscription and who registered it: ``user_id`` is a console user's id, or an API
    key's when ``kind`` is ``api_key`` (the two are counted apart, so the owner is the pair)."""

    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    kind: str = "user"  # stored since 2026-12-01: an older entry without it was a console user's
    server_key: str = ""  # the applicationServerKey it was made with; "" before keys were derived (another key)

    def info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_problems(p256dh: str, auth: str) -> list[dict[str, str]]:
    """What makes a subscription's keys unusable (RFC 8291: a P-256 point and a 16-byte secret), one problem per
    field; empty when a push can be encrypted to them."""
    problems = []
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(p256dh))
    except ValueError:  # binascii.Error too
        problems.append({"field": "keys.p256dh", "message": "not a P-256 public key in base64url"})
    try:
        secret = _unb64(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        problems.append({"field": "keys.auth", "message": "not a 16-byte secret in base64url"})
    return problems


def subscribe(settings: Settings, subscription: Subscription) -> None:
    """Store a browser's subscription; its endpoint must be a public http(s) address, its keys usable.

    Raises:
        OutboundBlocked: the endpoint points to loopback, a private network, the metadata service...
        ValidationFailed: keys no push can be encrypted to (``keys.p256dh``, ``keys.auth``).
    """
    outbound_http.check_url(subscription.endpoint, field="endpoint", policy=OutboundPolicy.from_settings(settings))
    problems = key_problems(subscription.p256dh, subscription.auth)
    if problems:
        raise ValidationFailed("the subscription's keys cannot encrypt a push", errors=problems)
    stored = replace(subscription, server_key=application_server_key(settings))
    get_redis(settings).hset(SUBSCRIPTIONS_KEY, subscription.endpoint, json.dumps(stored.__dict__))


class _CheckedSession:
    """What ``pywebpush`` needs of a ``requests.Session`` (``post``), sent through the public-only client.

    The push service's answer body is not read: only its status reaches pywebpush.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def post(self, url: str, *, data: bytes | None, headers: Mapping[str, str], timeout: float) -> requests.Response:
        with self._client.stream("POST", url, content=data, headers=dict(headers), timeout=timeout) as answer:
            response = requests.Response()
            response.status_code = answer.status_code
            response.reason = answer.reason_phrase
            if "retry-after" in answer.headers:  # read by POLICY; nothing else of the answer is kept
                response.headers["Retry-After"] = answer.headers["retry-after"]
            response.url = url
            response._content = b""
            return response


# delete the endpoint's entry only if the caller registered it: one script, so a browser re-subscribed by
# another user between a read and a delete is never removed
_UNSUBSCRIBE_OWN = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return 0 end
local entry = cjson.decode(stored)
if tostring(entry['user_id']) ~= ARGV[2] or (entry['kind'] or 'user') ~= ARGV[3] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


def unsubscribe(settings: Settings, endpoint: str, *, user_id: int, kind: str = "user") -> bool:
    """Stop notifying ``endpoint`` if it is the caller's own subscription (``user_id`` of ``kind``);
    whether one was removed. Anyone else's is left alone: an endpoint is an unguessable URL, but one
    seen in a log or a shared browser must not let a colleague silence another agent's notifications."""
    removed = get_redis(settings).eval(_UNSUBSCRIBE_OWN, 1, SUBSCRIPTIONS_KEY, endpoint, str(user_id), kind)
    return bool(removed)


def drop(settings: Settings, endpoint: str) -> None:
    """Forget a subscription whatever its owner: the push service says it is gone, or it is not public."""
    get_redis(settings).hdel(SUBSCRIPTIONS_KEY, endpoint)


def subscriptions(settings: Settings) -> list[Subscription]:
    raw = get_redis(settings).hgetall(SUBSCRIPTIONS_KEY)
    return [Subscription(**json.loads(value)) for value in raw.values()]


def current_key_only(settings: Settings, found: list[Subscription]) -> list[Subscription]:
    """The subscriptions made with this deployment's key; the others are dropped: a push service refuses a push
    signed with another key than the subscription's, so they would fail on every escalation."""
    current = application_server_key(settings)
    for stale in (s for s in found if s.server_key != current):
        drop(settings, stale.endpoint)
        log.info("web push subscription made with another key, dropped", endpoint_host=urlsplit(stale.endpoint).netloc)
    return [s for s in found if s.server_key == current]


def vapid_subject(settings: Settings) -> str:
    """Who push services may contact about this sender: the public URL, else a mailto on its host."""
    if settings.public_url.startswith("https://"):
        return settings.public_url
    return "mailto:push@" + (urlsplit(settings.public_url).hostname or "relais.invalid")


NOTIFIED_ROLES = (Role.AGENT.value, Role.ADMIN.value)  # those who may subscribe (POST /console/push/subscriptions)


def still_allowed(found: list[Subscription]) -> list[Subscription]:
    """The subscriptions whose owner may still hear of escalations: an active agent or admin, or an API key of those
    roles, not revoked, whose creator's authority holds (``core.accounts.key_suspension``).

    A browser keeps its subscription when its user is deactivated or given another role: the escalations went on
    reaching the phone of someone who had left. Their entries are skipped, not dropped, so a reactivated agent's
    browser is told again."""
    users = {s.user_id for s in found if s.kind == "user"}
    keys = {s.user_id for s in found if s.kind == "api_key"}
    active_users = select(User.id).where(User.id.in_(users), User.is_active.is_(True), User.role.in_(NOTIFIED_ROLES))
    live_keys = select(ApiKey).where(ApiKey.id.in_(keys), ApiKey.revoked_at.is_(None), ApiKey.role.in_(NOTIFIED_ROLES))
    with db.session_scope() as session:
        allowed_users = set(session.scalars(active_users))
        allowed_keys = {
            key.id
            for key in session.scalars(live_keys)
            if not key_suspension(session.get(User, key.created_by) if key.created_by else None)
        }
    return [s for s in found if s.user_id in (allowed_users if s.kind == "user" else allowed_keys)]


def notify_all(settings: Settings, payload: dict[str, Any]) -> int:
    """Push ``payload`` (JSON) to every subscription whose owner may still be told (:func:`still_allowed`); gone
    ones (404/410) are dropped. Returns sends."""
    key = vapid(settings)
    sent = 0
    policy = OutboundPolicy.from_settings(settings)
    for subscription in still_allowed(current_key_only(settings, subscriptions(settings))):
        # one client per endpoint: a TLS connection verified for one push service is never reused
        # for another name that happens to share its address
        with outbound_http.client(timeout=5, deadline=15, policy=policy) as client:
            sent += _push_one(settings, _CheckedSession(client), subscription, payload, key)
    return sent


def _push_one(
    settings: Settings, session: _CheckedSession, subscription: Subscription, payload: dict[str, Any], key: Vapid
) -> int:
    """1 when the push service took it; a gone (404/410) or non-public endpoint is dropped."""
    origin = urlsplit(subscription.endpoint)
    claims: dict[str, str | int] = {"sub": vapid_subject(settings), "aud": f"{origin.scheme}://{origin.netloc}"}
    def push() -> None:
        webpush(
            subscription.info(),
            json.dumps(payload),
            vapid_private_key=key,
            vapid_claims=claims,
            ttl=3600,
            timeout=5,
            requests_session=session,  # duck-typed: pywebpush only calls post()
        )

    try:
        POLICY.call(f"web push to {origin.netloc}", push, failure=_failure)
        return 1
    except OutboundBlocked:
        drop(settings, subscription.endpoint)
        log.warning("web push endpoint is not public, dropped", endpoint_host=origin.netloc)
    except (ValueError, IndexError):  # pywebpush's words for keys it cannot encrypt to (stored before key_problems)
        if not key_problems(subscription.p256dh, subscription.auth):
            raise
        drop(settings, subscription.endpoint)
        log.warning("web push keys unusable, dropped", endpoint_host=origin.netloc)
    except CallFailed as exc:
        if exc.status in (404, 410):
            drop(settings, subscription.endpoint)
        log.warning("web push failed", status=exc.status, attempts=exc.attempts, endpoint_host=origin.netloc)
    return 0


def _failure(exc: Exception) -> Failure | None:
    """A push attempt's error read for :data:`POLICY`: the push service's status and Retry-After, or no answer."""
    if isinstance(exc, httpx.HTTPError):
        return Failure(None, f"unreachable ({type(exc).__name__})")
    if isinstance(exc, WebPushException):
        response = exc.response
        status = response.status_code if response is not None else None
        wait = retry_after(header(response.headers, "Retry-After")) if response is not None else None
        return Failure(status, f"answered {status}", wait, retry=None if status is not None else False)
    return None


def escalation_payload(event: dict[str, Any]) -> dict[str, Any]:
    conversation_id = event.get("conversation_id")
    reason = str(event.get("reason", "")).replace("_", " ")
    return {
        "title": "New conversation waiting",
        "body": f"Priority {event.get('priority', '?')}: {reason}".strip(),
        "url": f"/console/conversations/{conversation_id}?view=unassigned",
        "tag": f"conversation-{conversation_id}",
    }


class PushRelay:
    """A thread relaying ``conversation.escalated`` console events to web push."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relais-push-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        redis = get_redis(self._settings)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel(redis))
        try:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.05)
                if message is None or message.get("type") != "message":
                    continue
                self.handle(message["data"])
        finally:
            pubsub.close()

    def handle(self, data: bytes | str) -> int:
        """Send one event's push if it is an escalation and no other process claimed it."""
        try:
            event = json.loads(data)
        except ValueError:
            return 0
        if not isinstance(event, dict) or event.get("kind") != "conversation.escalated":
            return 0
        claim = SENT_KEY + hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()
        if not get_redis(self._settings).set(claim, "1", nx=True, ex=300):
            return 0
        try:
            return notify_all(self._settings, escalation_payload(event))
        except Exception:  # a push failure must never stop the relay
            log.exception("web push relay failed")
            return 0
