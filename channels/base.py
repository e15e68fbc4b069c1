"""The one channel interface every provider adapter implements, and the typed values it speaks.

Adapters are small, stateless with respect to retries (the queue owns retries), and never import a
web framework: webhooks arrive as a :class:`WebhookRequest`, a frozen framework-neutral value that
``api/`` builds from whatever request object it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import unquote_plus

from core import json_input
from core.errors import NotFound, Unauthorized, ValidationFailed

Encoding = Literal["GSM-7", "UCS-2"]
DeliveryStatus = Literal["queued", "sent", "delivered", "failed", "rejected", "expired", "unknown"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = (
    "queued",
    "sent",
    "delivered",
    "failed",
    "rejected",
    "expired",
    "unknown",
)
SignatureProblem = Literal["unsigned", "bad_signature", "replay"]

#: Signed webhooks older than this (seconds) are refused as replays.
MAX_WEBHOOK_AGE_SECONDS = 300
#: Tolerated clock skew (seconds) for signatures dated in the future.
MAX_CLOCK_SKEW_SECONDS = 30
#: The wait (seconds) after a provider's "slow down" that names none (Vonage SMS API status 1, SMPP throttling):
#: a provider's per-second submission window has passed by then.
THROTTLE_DEFAULT_SECONDS = 1.0


@dataclass(frozen=True)
class MediaItem:
    """One MMS attachment: where the provider fetches it and what it is.

    ``size`` is in bytes when known (``None`` for inbound media a provider only links to).
    """

    url: str
    content_type: str
    size: int | None = None
    caption: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A message to send.

    Args:
        to: recipient in E.164 (``+33612345678``).
        sender: E.164 long code, 5-6 digit short code or alphanumeric sender id.
        text: body as it must be sent (apply :func:`channels.encoding.smart_encode` before, if wanted).
        media: MMS attachments; non-empty makes the message an MMS.
        client_ref: our id for the message; providers echo it in delivery reports, which lets the
            caller reconcile a send whose outcome was unknown (timeout) before retrying.
        validity_seconds: how long the provider keeps trying to deliver, ``None`` = its default.
    """

    to: str
    sender: str
    text: str = ""
    media: tuple[MediaItem, ...] = ()
    client_ref: str | None = None
    validity_seconds: int | None = None

    @property
    def is_mms(self) -> bool:
        return bool(self.media)


@dataclass(frozen=True)
class SendResult:
    """What a provider said when it accepted a message.

    ``provider_message_id`` is the id delivery reports refer to; when the provider splits a long
    text into separately tracked parts (SMPP, Vonage SMS API), ``part_ids`` lists every part's id
    (the first one is ``provider_message_id``) and reports may name any of them.
    ``price_micros`` is the price in millionths of ``currency`` when the provider says it.
    """

    provider: str
    provider_message_id: str
    segments: int
    encoding: Encoding
    part_ids: tuple[str, ...] = ()
    price_micros: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class ConcatInfo:
    """Where an inbound part sits in a concatenated message: join parts sharing ``ref`` (and sender)."""

    ref: str
    part: int
    total: int


@dataclass(frozen=True)
class InboundMessage:
    """A message a customer sent us. ``from_`` and ``to`` are E.164 when numeric.

    ``truncated``: the text (or the number of parts) was cut to the caps of ``channels.limits``.
    """

    provider: str
    provider_message_id: str
    from_: str
    to: str
    text: str
    received_at: datetime
    media: tuple[MediaItem, ...] = ()
    concat: ConcatInfo | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    truncated: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's news about a message we sent.

    ``provider_code`` is the provider's own error/status code (string, as the provider spells it),
    ``provider_status`` its raw status word; ``status`` is the normalised one.
    """

    provider: str
    provider_message_id: str
    status: DeliveryStatus
    occurred_at: datetime
    provider_status: str = ""
    provider_code: str | None = None
    description: str | None = None
    to: str | None = None
    client_ref: str | None = None
    price_micros: int | None = None
    currency: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class ChannelError(Exception):
    """A send failed. ``retryable`` tells the queue whether trying again later can succeed.

    ``outcome_unknown`` is set when the request may have reached the provider (timeout after
    sending, link dropped while waiting): a blind retry could send twice, so the caller should
    reconcile through ``client_ref`` / delivery reports first or accept the risk explicitly.

    ``throttled_for`` is set when the provider refused the message because we send too fast (HTTP 429,
    Vonage SMS API "Throttled", SMPP ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL``): the seconds it asked us to
    wait (its ``Retry-After``, else :data:`THROTTLE_DEFAULT_SECONDS`). The message was never accepted, and
    the next ones would meet the same wall: the engine pauses the provider account and counts no attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        provider_code: str | None = None,
        http_status: int | None = None,
        outcome_unknown: bool = False,
        throttled_for: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.provider_code = provider_code
        self.http_status = http_status
        self.outcome_unknown = outcome_unknown
        self.throttled_for = throttled_for

    def __repr__(self) -> str:
        kind = "retryable" if self.retryable else "permanent"
        return f"ChannelError({self.message!r}, {kind}, code={self.provider_code!r})"


class SignatureError(Unauthorized):
    """A webhook is unsigned, badly signed or too old (replay); the API answers 401."""

    def __init__(self, problem: SignatureProblem, detail: str) -> None:
        super().__init__(detail, errors=[{"reason": problem}])
        self.problem: SignatureProblem = problem


class MalformedWebhook(ValidationFailed):
    """A webhook body does not have the fields its provider always sends."""


class WebhookNotSupported(NotFound):
    """This channel does not receive webhooks (SMPP delivers over its bind)."""


def form_fields(text: str) -> dict[str, str]:
    """``dict(parse_qsl(text, keep_blank_values=True))``: the last value of a repeated field wins.

    A provider's report is a dozen fields a few of which need decoding (a date's spaces and colons);
    ``parse_qsl`` runs its decoding on every name and value, a quarter of a status webhook's parsing.
    Here only the parts holding ``%`` or ``+`` are decoded (``unquote_plus``, as ``parse_qsl`` does).
    """
    fields: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        fields[name] = value
    return fields


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str] | None, Any]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedWebhook("form body is not UTF-8") from None
        return form_fields(text), None
    if media_type == "application/json" or media_type.endswith("+json"):
        if not body:
            return None, None
        try:
            return None, json_input.loads(body)
        except ValueError:
            raise MalformedWebhook("JSON body does not parse") from None
    return None, None


@dataclass(frozen=True)
class WebhookRequest:
    """An incoming webhook, framework-neutral. Build it with :meth:`build`.

    ``headers`` keys are lower-case. ``form`` is set for form-encoded bodies, ``json`` for JSON
    bodies; ``body`` always holds the exact bytes (signatures may cover them).
    """

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] | None = None
    json: Any = None

    @classmethod
    def build(
        cls,
        *,
        method: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> WebhookRequest:
        """Normalise headers and parse the body according to its ``content-type``.

        Raises:
            MalformedWebhook: the body claims JSON or form encoding and does not parse.
        """
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        form, parsed_json = _parse_body(lowered.get("content-type", ""), body)
        return cls(
            method=method.upper(),
            headers=lowered,
            query=dict(query or {}),
            body=body,
            form=form,
            json=parsed_json,
        )

    def params(self) -> dict[str, str]:
        """Query, form and flat JSON fields merged (body wins): how SMS-API-style webhooks read."""
        merged: dict[str, str] = dict(self.query)
        if self.form:
            merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update({k: str(v) for k, v in self.json.items() if not isinstance(v, dict | list)})
        return merged


class Channel(ABC):
    """A provider adapter. Methods are keyword-only; values in and out are frozen dataclasses.

    Implementations hold configuration and connections, never retry state: a failed send raises
    :class:`ChannelError` and the queue decides what happens next. One instance may be shared by
    threads unless its docstring says otherwise.
    """

    name: ClassVar[str]

    @abstractmethod
    def send(self, *, message: OutboundMessage) -> SendResult:
        """Hand ``message`` to the provider.

        Raises:
            ChannelError: the provider refused it or could not be reached.
        """

    @abstractmethod
    def parse_inbound(self, *, request: WebhookRequest) -> list[InboundMessage]:
        """Read the customer messages in an inbound webhook (call :meth:`verify_signature` first).

        Raises:
            MalformedWebhook: required fields are missing.
            WebhookNotSupported: this channel receives no webhooks.
        """

    @abstractmethod
    def parse_status(self, *, request: WebhookRequest) -> list[DeliveryReport]:
        """Read the delivery reports in a status webhook (call :meth:`verify_signature` first).

        Raises:
            MalformedWebhook: required fields are missing.
            WebhookNotSupported: this channel receives no webhooks.
        """

    @abstractmethod
    def verify_signature(self, *, request: WebhookRequest) -> None:
        """Check that the webhook comes from the provider and is fresh (≤ 5 minutes).

        Raises:
            SignatureError: unsigned, bad signature, or replay.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing to release
        """Release connections; the default holds none."""
