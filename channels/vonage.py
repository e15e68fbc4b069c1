"""Vonage adapter on the ``vonage`` SDK v4: SMS API or Messages API (SMS and MMS).

The API is chosen by configuration: an application id and private key select the Messages API
(required for MMS), otherwise the SMS API with api key and secret. Webhook parsing and signature
checks live in :mod:`channels.vonage_webhooks` and accept both APIs' formats.

One :class:`VonageChannel` may be shared by threads: it holds one SDK client (a ``requests``
session with a connection pool of ``pool_size``) and no per-send state. The SDK's own HTTP retries
are turned off (``max_retries=0``) because retries belong to the queue.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json import JSONDecodeError
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus

import requests
from pydantic import ValidationError
from requests.adapters import DEFAULT_CA_BUNDLE_PATH, HTTPAdapter
from requests.compat import json as complexjson
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError
from vonage_messages.models import (
    BaseMessage,
    MmsAudio,
    MmsContent,
    MmsContentItemAudio,
    MmsContentItemImage,
    MmsContentItemVcard,
    MmsContentItemVideo,
    MmsImage,
    MmsResource,
    MmsVcard,
    MmsVideo,
    Sms,
    SmsOptions,
)
from vonage_sms import SmsMessage, SmsResponse
from vonage_sms.errors import PartialFailureError, SmsError

from channels import vonage_webhooks
from channels.base import (
    THROTTLE_DEFAULT_SECONDS,
    Channel,
    ChannelError,
    DeliveryReport,
    InboundMessage,
    MediaItem,
    OutboundMessage,
    SendResult,
    WebhookRequest,
)
from channels.encoding import analyze
from channels.media import media_kind
from channels.provider_http import ConnectFailed, KeepAliveAdapter
from core.errors import ValidationFailed
from core.retry import header, retry_after
from core.settings import Settings

VonageApi = Literal["sms", "messages"]

#: SMS API ``status`` codes (developer.vonage.com/messaging/sms/guides/troubleshooting-sms) and
#: whether trying again later can succeed.
SMS_API_ERRORS: dict[str, tuple[bool, str]] = {
    "1": (True, "Throttled: over the account's submission rate"),
    "2": (False, "Missing parameters"),
    "3": (False, "Invalid parameters"),
    "4": (False, "Invalid credentials"),
    "5": (True, "Internal error at Vonage"),
    "6": (False, "Invalid message: unroutable destination"),
    "7": (False, "Number barred"),
    "8": (False, "Partner account barred"),
    "9": (False, "Partner quota violation: not enough credit"),
    "10": (True, "Too many existing binds"),
    "11": (False, "Account not enabled for HTTP"),
    "12": (False, "Message too long"),
    "14": (False, "Invalid signature"),
    "15": (False, "Invalid sender address"),
    "22": (False, "Invalid network code"),
    "23": (False, "Invalid callback URL"),
    "29": (False, "Non-whitelisted destination"),
    "32": (False, "Signature and API secret disallowed"),
    "33": (False, "Number de-activated"),
}
_SMS_ERROR_CODE = re.compile(r"error code (\d+)")
_SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
SMS_API_CALLBACK_MAX = 100


@dataclass(frozen=True)
class VonageConfig:
    """Everything the adapter needs; build it with :meth:`from_settings` in the app.

    ``private_key`` is the PEM text (PKCS#8) of the application's key, not a path.
    ``api_host`` / ``rest_host`` override Vonage's hosts (``host[:port]``, always HTTPS).
    ``status_webhook_url`` is sent with each message when set, overriding the dashboard setting.
    """

    api_key: str = ""
    api_secret: str = ""
    application_id: str = ""
    private_key: str = ""
    signature_secret: str = ""
    signature_method: str = "sha256"
    api_host: str = ""
    rest_host: str = ""
    status_webhook_url: str = ""
    timeout_seconds: int = 10
    pool_size: int = 10

    def __post_init__(self) -> None:
        if self.signature_method not in _SIGNATURE_METHODS:
            raise ValueError(f"vonage signature method must be one of {', '.join(_SIGNATURE_METHODS)}")
        if bool(self.application_id) != bool(self.private_key):
            raise ValueError("vonage application id and private key go together")
        if not self.application_id and not (self.api_key and self.api_secret):
            raise ValueError("vonage needs an application id + private key, or an api key + secret")
        if self.api == "sms" and len(self.status_webhook_url) > SMS_API_CALLBACK_MAX:
            raise ValueError(f"the SMS API takes status webhook URLs of at most {SMS_API_CALLBACK_MAX} characters")

    @property
    def api(self) -> VonageApi:
        """``messages`` when an application is configured, else ``sms``."""
        return "messages" if self.application_id else "sms"

    @classmethod
    def from_settings(cls, settings: Settings) -> VonageConfig:
        """Read ``RELAIS_VONAGE_*``; the private key is loaded from its path.

        Raises:
            ValueError: incomplete credentials or an unreadable private key file.
        """
        private_key = ""
        if settings.vonage_private_key_path:
            try:
                private_key = Path(settings.vonage_private_key_path).read_text()
            except OSError as exc:
                raise ValueError(f"RELAIS_VONAGE_PRIVATE_KEY_PATH: cannot read ({exc.strerror})") from None
        status_url = f"{settings.public_url.rstrip('/')}/webhooks/vonage/status" if settings.public_url else ""
        if not settings.vonage_application_id and len(status_url) > SMS_API_CALLBACK_MAX:
            status_url = ""  # too long for the SMS API: the dashboard's status URL applies
        return cls(
            api_key=settings.vonage_api_key,
            api_secret=settings.vonage_api_secret,
            application_id=settings.vonage_application_id,
            private_key=private_key,
            signature_secret=settings.vonage_signature_secret,
            signature_method=settings.vonage_signature_method,
            api_host=settings.vonage_api_host,
            rest_host=settings.vonage_rest_host,
            status_webhook_url=status_url,
            pool_size=settings.send_concurrency,  # one connection per lane of the delivery engine
        )


class _ProviderAdapter(HTTPAdapter):
    """requests' adapter with the CA bundle's location checked once per location, not on every call.

    ``HTTPAdapter.cert_verify`` looks for the bundle on disk (``exists`` and ``isdir``) before each
    request; the bundle is fixed when the channel is made (:func:`_read_environment_once`), so the
    answer is kept. A bundle removed later fails the TLS handshake instead, as a missing file would.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bundles: dict[str, bool] = {}  # CA bundle location → is a directory

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        if cert is not None or not verify or not url.lower().startswith("https"):
            super().cert_verify(conn, url, verify, cert)
            return
        location = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
        is_dir = self._bundles.get(location)
        if is_dir is None:
            super().cert_verify(conn, url, verify, cert)  # raises OSError naming a missing bundle
            is_dir = self._bundles[location] = os.path.isdir(location)
        conn.cert_reqs = "CERT_REQUIRED"
        if not is_dir:
            conn.ca_certs = location


class _ProviderSession(requests.Session):
    """The SDK's requests session, preparing its requests without the layers a provider API never uses.

    The SDK calls ``session.request(method, url, headers=, timeout=, json= | data= | params=)`` with a
    fixed https URL it built itself. ``Session.request`` then merges cookies, hooks, auth, ``.netrc``
    and environment settings and checks the form's type against runtime protocols, which cost a
    send worker about a quarter of each provider call's processor time. Here a JSON or form request
    without query parameters is prepared directly — the same body, ``Content-Type`` and
    ``Content-Length`` as ``requests`` makes, with the session's headers and TLS settings — and
    handed to the mounted adapter, which still maps connection errors to ``requests`` exceptions.
    Not done on this path: cookies (Vonage's APIs set none we need) and redirects (they answer
    none; a 3xx reaches the SDK as an error). Anything else goes through ``Session.request``.
    """

    def __init__(self) -> None:
        super().__init__()
        # (session headers, call headers) → their merge's store (see _merged_headers)
        self._merged: dict[tuple[tuple[Any, ...], tuple[Any, ...]], OrderedDict[str, Any]] = {}

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        timeout: Any = None,
        json: Any = None,
        **other: Any,
    ) -> requests.Response:
        if other or params or not (data is None or isinstance(data, dict)) or self.trust_env:
            return super().request(method, url, params=params, data=data, headers=headers, timeout=timeout,
                                   json=json, **other)  # fmt: skip
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = url
        prepared.headers = self._merged_headers(headers or {})
        prepared.hooks = default_hooks()
        body: bytes | None = None
        if data:
            body = _form(data).encode("ascii")
            content_type = "application/x-www-form-urlencoded"
        elif json is not None:
            body = complexjson.dumps(json, allow_nan=False).encode("utf-8")
            content_type = "application/json"
        if body is not None:
            prepared.headers["Content-Length"] = str(len(body))
            if "content-type" not in prepared.headers:
                prepared.headers["Content-Type"] = content_type
        elif prepared.method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = "0"
        prepared.body = body
        return self.get_adapter(url).send(prepared, timeout=timeout, verify=self.verify, proxies=self.proxies,
                                          cert=self.cert, stream=False)  # fmt: skip

    def _merged_headers(self, headers: Any) -> CaseInsensitiveDict[Any]:
        """The session's headers updated with the call's, as ``requests`` merges them, in a new mapping.

        The SDK sends the same few headers on every call: the merge (a ``CaseInsensitiveDict`` copied and
        updated through its Python-level setter, header by header) is done once per distinct pair and
        copied afterwards (a copy of its ordered store, in C).
        """
        merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict()
        if not (isinstance(self.headers, CaseInsensitiveDict) and isinstance(headers, dict)):
            merged.update(self.headers)
            merged.update(headers)
            return merged
        try:
            key = (tuple(self.headers._store.values()), tuple(headers.items()))
            store = self._merged.get(key)
        except TypeError:  # a value that cannot be a key (not from the SDK): merge without the cache
            key, store = None, None
        if store is None:
            merged.update(self.headers)
            merged.update(headers)
            if key is not None:
                if len(self._merged) >= 64:  # headers that change per call (none from the SDK): keep it small
                    self._merged.clear()
                self._merged[key] = merged._store
            return merged
        merged._store = OrderedDict(store)
        return merged


def _form(data: dict[str, Any]) -> str:
    """A form body as ``requests`` encodes a dict (``urlencode``): ``None`` values left out, lists as
    repeated keys. Text made only of the characters ``quote_plus`` keeps (most fields: numbers, refs,
    flags) is written as it is; ``urlencode`` runs four Python calls per field to find that out."""
    pairs: list[str] = []
    for key, values in data.items():
        if values is None:  # most of the SDK's optional fields
            continue
        name = _plus(key)
        for value in values if isinstance(values, list | tuple) else (values,):
            if value is not None:
                pairs.append(f"{name}={_plus(value)}")
    return "&".join(pairs)


_KEPT_AS_IS = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus never changes


@lru_cache(maxsize=512)  # names, the sender, the callback URL and flags repeat on every send
def _plus(value: Any) -> str:
    if isinstance(value, bytes):
        return quote_plus(value)
    text = str(value)
    return text if _KEPT_AS_IS.fullmatch(text) else quote_plus(text)


def _read_environment_once(client: Vonage) -> None:
    """Take the proxy and CA-bundle settings from the environment now, once, for every later send,
    and give the SDK the lighter session and adapter above (same pool size and retries).

    ``requests`` reads them again on every call, with a ``~/.netrc`` lookup among them (file checks
    each time: ~7 % of a send worker's processor time under a campaign). Vonage's credentials
    travel in the request, never in ``.netrc``, so nothing is lost; a changed proxy variable takes
    effect at the next start.
    """
    http = client._http_client  # the SDK exposes no setting for its requests session
    old = http._session
    pool = http._adapter
    url = f"https://{http.api_host}"
    resolved = old.merge_environment_settings(url, {}, None, None, None)
    session = _ProviderSession()
    session.headers = old.headers
    session.proxies.update(resolved["proxies"])
    session.verify = resolved["verify"]
    session.trust_env = False
    fallback = _ProviderAdapter(pool_connections=pool._pool_connections, pool_maxsize=pool._pool_maxsize,
                                max_retries=pool.max_retries)  # fmt: skip
    adapter = KeepAliveAdapter(fallback=fallback, pool_maxsize=pool._pool_maxsize)
    session.mount("https://", adapter)
    old.close()
    http._session, http._adapter = session, adapter


class CachedJwtAuth(Auth):
    """The SDK's :class:`Auth`, reusing one application JWT for up to ``JWT_REUSE_SECONDS``.

    The SDK signs a fresh JWT for every Messages API request and re-parses the PEM key each time
    (about 70 ms of CPU with current ``cryptography``), which caps a process near 15 sends/s.
    Vonage accepts a JWT until its ``exp`` (15 minutes after ``iat`` here), so one token is shared
    by all requests and replaced 5 minutes before it expires.
    """

    JWT_REUSE_SECONDS = 600

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jwt_lock = threading.Lock()
        self._jwt: bytes | None = None
        self._jwt_made_at = 0.0

    def generate_application_jwt(self, claims: dict[str, Any] | None = None) -> bytes:
        if claims:  # custom claims are one-off tokens
            return super().generate_application_jwt(claims)
        with self._jwt_lock:
            now = time.monotonic()
            if self._jwt is None or now - self._jwt_made_at > self.JWT_REUSE_SECONDS:
                self._jwt = super().generate_application_jwt()
                self._jwt_made_at = now
            return self._jwt


def sdk_client(config: VonageConfig) -> Vonage:
    """The SDK client the adapter sends with: its pool, timeout, hosts, no SDK retries, the
    environment read once, the application JWT reused. Public so ``bench/floor.py`` measures the
    SDK exactly as the adapter drives it."""
    options: dict[str, Any] = {
        "timeout": config.timeout_seconds,
        "pool_connections": config.pool_size,
        "pool_maxsize": config.pool_size,
        "max_retries": 0,
    }
    if config.api_host:
        options["api_host"] = config.api_host
    if config.rest_host:
        options["rest_host"] = config.rest_host
    client = Vonage(
        CachedJwtAuth(
            api_key=config.api_key or None,
            api_secret=config.api_secret or None,
            application_id=config.application_id or None,
            private_key=config.private_key or None,
        ),
        HttpClientOptions(**options),
    )
    _read_environment_once(client)
    return client


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


def _network_error(exc: requests.RequestException) -> ChannelError:
    """Connection problems are retryable; the outcome is unknown unless the connection never opened."""
    reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
    never_sent = isinstance(exc, ConnectFailed | requests.ConnectTimeout | requests.exceptions.SSLError) or isinstance(
        reason, NewConnectionError | ConnectTimeoutError
    )
    return ChannelError(
        f"Vonage unreachable: {exc.__class__.__name__}",
        retryable=True,
        provider_code="network",
        outcome_unknown=not never_sent,
    )


def sms_api_error(code: str, text: str = "") -> ChannelError:
    """Map an SMS API ``status`` code to a :class:`ChannelError`; unknown codes are permanent."""
    retryable, meaning = SMS_API_ERRORS.get(code, (False, "Unknown SMS API error"))
    detail = f"{meaning} ({text})" if text else meaning
    return ChannelError(f"Vonage SMS API status {code}: {detail}", retryable=retryable, provider_code=code,
                        throttled_for=THROTTLE_DEFAULT_SECONDS if code == "1" else None)


def http_error(exc: HttpRequestError) -> ChannelError:
    """Map an HTTP error of the Messages API: 429 and 5xx retryable, other 4xx permanent; a 429 is a throttle
    for its ``Retry-After`` (seconds or an HTTP date, :func:`core.retry.retry_after`), else the default wait."""
    status = exc.response.status_code
    code: str | None = None
    detail = ""
    try:
        body = exc.response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error_type = str(body.get("type") or "")
        code = error_type.rsplit("#", 1)[1] if "#" in error_type else None
        detail = str(body.get("detail") or body.get("title") or "")
    return ChannelError(
        f"Vonage answered HTTP {status}" + (f": {detail}" if detail else ""),
        retryable=status == 429 or status >= 500,
        provider_code=code or str(status),
        http_status=status,
        throttled_for=_asked_wait(exc.response.headers) if status == 429 else None,
    )


def _asked_wait(headers: Any) -> float:
    asked = retry_after(header(headers, "Retry-After"))
    return THROTTLE_DEFAULT_SECONDS if asked is None else asked


@lru_cache(maxsize=256)
def _sms_shape(from_: str, type: str, ttl: int | None, callback: str | None) -> dict[str, Any]:
    """The SDK's request model validated once per sender, encoding, validity and callback: the
    form fields ``SmsMessage(...).model_dump(by_alias=True)`` gives, in its order, with placeholder
    ``to``, ``text`` and ``client-ref``. Raises the model's ``ValidationError``."""
    return SmsMessage(to="0", from_=from_, text="", type=type, client_ref=None, ttl=ttl, status_report_req=True,
                      callback=callback).model_dump(by_alias=True)  # fmt: skip


def sms_api_params(*, to: str, from_: str, text: str, type: str, client_ref: str | None, ttl: int | None,
                callback: str | None) -> dict[str, Any]:
    """The SMS API form fields of one message, as the SDK's :class:`SmsMessage` validates and dumps
    them: the fields a batch shares are validated once (:func:`_sms_shape`); of the rest, ``to``
    and ``text`` are any text to the model and ``client-ref`` has its maximum length checked here.
    Raises ``ValidationError`` as the model does."""
    if client_ref is not None and len(client_ref) > _CLIENT_REF_MAX:
        SmsMessage(to=to, from_=from_, text=text, client_ref=client_ref)  # raises the model's own error
    params = dict(_sms_shape(from_, type, ttl, callback))
    params["to"], params["text"], params["client-ref"] = to, text, client_ref
    return params


_CLIENT_REF_MAX = 100  # SmsMessage.client_ref's max_length


def sms_api_send(client: Vonage, params: dict[str, Any]) -> SmsResponse:
    """``client.sms.send`` for the form fields of :func:`sms_api_params`, without the SDK's per-call
    layers a send worker paid on every message: pydantic's ``validate_call`` on ``Sms.send`` and
    ``HttpClient.make_request`` (the request model is validated per shape instead), the model's
    dump, and the debug-log f-strings ``make_request`` and ``_parse_response`` format whether or not
    debug logging is on. The rest is the SDK's, in its order: its authentication of the request
    (signature or basic), its requests session, its error mapping of an HTTP error status
    (``HttpClient._parse_response``), its checks of the answer (``Sms._check_for_error`` and
    ``_check_for_partial_failure``) and its response model. With the ``vonage`` logger at DEBUG,
    ``Sms.send`` itself runs, logs included.

    Raises what ``Sms.send`` raises.
    """
    sms = client.sms
    http = sms.http_client
    if _SDK_LOG.isEnabledFor(logging.DEBUG):
        return sms.send(SmsMessage(**{_SMS_FIELD.get(k, k): v for k, v in params.items() if v is not None}))
    auth = http.auth
    if sms._auth_type == "signature":
        params["api_key"] = auth.api_key
        params["sig"] = auth.sign_params(params)
    else:
        http._headers["Authorization"] = auth.create_basic_auth_string()
    url = f"https://{http.rest_host}/sms/json"
    tries = http.http_client_options.pool_maxsize or 10
    for attempt in range(1, tries + 1):  # make_request's retry of a connection the server had dropped
        try:
            with http._session.request(method="POST", url=url, headers=http._headers, timeout=http._timeout,
                                       data=params) as response:  # fmt: skip
                if 200 <= response.status_code < 300:
                    http._last_response = response
                    try:
                        answer = response.json()
                    except JSONDecodeError:  # as the SDK: no answer, which the checks below refuse
                        answer = None
                else:
                    answer = http._parse_response(response)  # raises the SDK's HttpRequestError subclass
            break
        except requests.ConnectionError as exc:
            if "RemoteDisconnected" not in str(exc.args) or attempt >= tries:
                raise
    if int(answer["message-count"]) > 1:
        sms._check_for_partial_failure(answer)
    else:
        sms._check_for_error(answer)
    return SmsResponse(**answer)


_SDK_LOG = logging.getLogger("vonage")
#: SmsMessage's aliases back to its field names (model_validate takes the names)
_SMS_FIELD = {info.serialization_alias: name for name, info in SmsMessage.model_fields.items()
              if info.serialization_alias}  # fmt: skip


class VonageChannel(Channel):
    """Sends through Vonage and reads its webhooks. See the module docstring."""

    name: ClassVar[str] = "vonage"

    def __init__(self, config: VonageConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._client = sdk_client(config)
        self._verifier = vonage_webhooks.VonageSignatureVerifier(
            api_key=config.api_key,
            signature_secret=config.signature_secret,
            signature_method=config.signature_method,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> VonageChannel:
        return cls(VonageConfig.from_settings(settings))

    def send(self, *, message: OutboundMessage) -> SendResult:
        if self.config.api == "messages":
            return self._send_messages_api(message)
        if message.is_mms:
            raise ChannelError(
                "MMS needs the Vonage Messages API (set an application id and private key)",
                retryable=False,
                provider_code="mms-unsupported",
            )
        return self._send_sms_api(message)

    def _send_sms_api(self, message: OutboundMessage) -> SendResult:
        info = analyze(message.text)
        try:
            params = sms_api_params(
                to=_digits(message.to),
                from_=_digits(message.sender),
                text=message.text,
                type="unicode" if info.encoding == "UCS-2" else "text",
                client_ref=message.client_ref,
                ttl=message.validity_seconds * 1000 if message.validity_seconds else None,
                callback=self.config.status_webhook_url or None,
            )
        except ValidationError as exc:
            raise ChannelError(f"invalid SMS request: {exc.errors()[0]['msg']}", retryable=False) from None
        try:
            response = sms_api_send(self._client, params)
        except PartialFailureError as exc:
            failed = next(m for m in exc.response["messages"] if m.get("status") != "0")
            raise sms_api_error(str(failed.get("status")), str(failed.get("error-text", ""))) from None
        except SmsError as exc:
            match = _SMS_ERROR_CODE.search(str(exc))
            raise sms_api_error(match.group(1) if match else "unknown", str(exc)) from None
        except HttpRequestError as exc:
            raise http_error(exc) from None
        except requests.RequestException as exc:
            raise _network_error(exc) from None
        part_ids = tuple(m.message_id for m in response.messages if m.message_id)
        prices = [vonage_webhooks.price_to_micros(m.message_price) for m in response.messages]
        return SendResult(
            provider=vonage_webhooks.SMS_API,
            provider_message_id=part_ids[0],
            segments=int(response.message_count),
            encoding=info.encoding,
            part_ids=part_ids,
            price_micros=sum(p for p in prices if p is not None) if any(p is not None for p in prices) else None,
        )

    def _send_messages_api(self, message: OutboundMessage) -> SendResult:
        info = analyze(message.text)
        try:
            request = self._messages_request(message, unicode=info.encoding == "UCS-2")
        except (ValidationError, ValidationFailed) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.detail
            raise ChannelError(f"invalid message: {detail}", retryable=False) from None
        try:
            response = self._client.messages.send(request)
        except HttpRequestError as exc:
            raise http_error(exc) from None
        except requests.RequestException as exc:
            raise _network_error(exc) from None
        return SendResult(
            provider=vonage_webhooks.MESSAGES_API,
            provider_message_id=response.message_uuid,
            segments=1 if message.is_mms else info.segments,
            encoding=info.encoding,
        )

    def _messages_request(self, message: OutboundMessage, *, unicode: bool) -> BaseMessage:
        common: dict[str, Any] = {
            "to": _digits(message.to),
            "from_": _digits(message.sender),
            "client_ref": message.client_ref,
            "webhook_url": self.config.status_webhook_url or None,
        }
        if not message.is_mms:
            return Sms(
                **common,
                text=message.text,
                ttl=message.validity_seconds,
                sms=SmsOptions(encoding_type="unicode" if unicode else "text"),
            )
        if message.validity_seconds:
            common["ttl"] = message.validity_seconds
        if len(message.media) == 1:
            item = message.media[0]
            resource = MmsResource(url=item.url, caption=item.caption or message.text or None)
            kind = media_kind(item.content_type)
            if kind == "image":
                return MmsImage(**common, image=resource)
            if kind == "video":
                return MmsVideo(**common, video=resource)
            if kind == "audio":
                return MmsAudio(**common, audio=resource)
            return MmsVcard(**common, vcard=resource)
        items = [self._content_item(item, message.text if i == 0 else None) for i, item in enumerate(message.media)]
        return MmsContent(**common, content=items)

    @staticmethod
    def _content_item(
        item: MediaItem, text: str | None
    ) -> MmsContentItemImage | MmsContentItemVideo | MmsContentItemAudio | MmsContentItemVcard:
        caption = item.caption or text or None
        kind = media_kind(item.content_type)
        if kind == "image":
            return MmsContentItemImage(url=item.url, caption=caption)
        if kind == "video":
            return MmsContentItemVideo(url=item.url, caption=caption)
        if kind == "audio":
            return MmsContentItemAudio(url=item.url, caption=caption)
        return MmsContentItemVcard(url=item.url, caption=caption)

    def parse_inbound(self, *, request: WebhookRequest) -> list[InboundMessage]:
        return vonage_webhooks.parse_inbound(request, now=self._now())

    def parse_status(self, *, request: WebhookRequest) -> list[DeliveryReport]:
        return vonage_webhooks.parse_status(request, now=self._now())

    def verify_signature(self, *, request: WebhookRequest) -> None:
        self._verifier.verify(request, now=self._clock())

    def close(self) -> None:
        """Close the provider connections kept alive for the next sends."""
        self._client._http_client._session.close()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
