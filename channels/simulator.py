"""The simulator channel: a provider that delivers to phones shown in the browser.

It behaves like a real provider so everything above it runs unchanged: :meth:`SimulatorChannel.send`
delivers to the simulated phone through a :class:`SimulatorOutbox` (the lead's Redis/DB store),
returns a provider id with encoding and segments, and reports ``sent`` then ``delivered`` through
the same outbox. Inbound texts come from the simulator API as JSON ``{"from", "body", "media"?}``.

Simulator webhooks are unsigned by design: :meth:`verify_signature` accepts every request, so the
API must only route simulator traffic here (and only when the simulator channel is active).
"""

from __future__ import annotations

import re
import threading
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from channels.base import (
    DELIVERY_STATUSES,
    Channel,
    DeliveryReport,
    Encoding,
    InboundMessage,
    MalformedWebhook,
    MediaItem,
    OutboundMessage,
    SendResult,
    WebhookRequest,
)
from channels.encoding import analyze
from channels.limits import MAX_INBOUND_CHARS, cap_inbound
from channels.media import MB, MediaUrl
from channels.phone import normalize_e164
from core.bodies import RequestBody

#: The number simulated customers text; shown as the sender of replies in the browser phone.
SIMULATOR_NUMBER = "+15550100000"
_OUR_NUMBER = re.compile(r"^(?:\+[1-9][0-9]{6,14}|[0-9]{5,6})$")


class SimulatedMedia(RequestBody):
    """One attachment texted in through the (public) simulator, checked as a sent one's address is.

    Any item used to be taken: a ``size`` that was not a number answered anonymous callers 500, and a
    ``javascript:`` address, an object as caption or a 30-digit size were stored on the message.
    """

    url: MediaUrl
    content_type: str = Field("", max_length=100)
    size: int | None = Field(None, ge=0, le=100 * MB, description="bytes, when known")
    caption: str | None = Field(None, max_length=MAX_INBOUND_CHARS)


@dataclass(frozen=True)
class SimulatedMessage:
    """What a simulated phone receives."""

    provider_message_id: str
    from_: str
    to: str
    text: str
    media: tuple[MediaItem, ...]
    encoding: Encoding
    segments: int
    client_ref: str | None
    sent_at: datetime


class SimulatorOutbox(ABC):
    """Storage behind the simulator: what each phone received, and the delivery reports.

    Implementations must be safe to call from several threads and processes (Redis/DB).
    """

    @abstractmethod
    def deliver(self, *, phone: str, message: SimulatedMessage) -> None:
        """Record ``message`` as received by ``phone`` (E.164)."""

    @abstractmethod
    def report(self, *, report: DeliveryReport) -> None:
        """Hand a delivery report to the status pipeline, as a provider webhook would."""


class InMemoryOutbox(SimulatorOutbox):
    """A process-local outbox for tests and single-process demos; keeps the last ``keep`` messages
    per phone."""

    def __init__(self, *, keep: int = 200) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, deque[SimulatedMessage]] = defaultdict(lambda: deque(maxlen=keep))
        self._reports: list[DeliveryReport] = []

    def deliver(self, *, phone: str, message: SimulatedMessage) -> None:
        with self._lock:
            self._messages[phone].append(message)

    def report(self, *, report: DeliveryReport) -> None:
        with self._lock:
            self._reports.append(report)

    def messages_for(self, phone: str) -> list[SimulatedMessage]:
        """What ``phone`` received, oldest first."""
        with self._lock:
            return list(self._messages.get(phone, ()))

    def reports(self) -> list[DeliveryReport]:
        """Every report so far, oldest first."""
        with self._lock:
            return list(self._reports)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _parse_media(value: Any) -> tuple[MediaItem, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedWebhook("media must be a list of {url, content_type}")
    items = []
    for number, entry in enumerate(value):
        try:
            item = SimulatedMedia.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in (f"media.{number}", *first["loc"]))
            raise MalformedWebhook(f"{where}: {first['msg']}") from None
        items.append(MediaItem(url=item.url, content_type=item.content_type or "application/octet-stream",
                               size=item.size, caption=item.caption))
    return tuple(items)


class SimulatorChannel(Channel):
    """The embedded default channel; see the module docstring."""

    name: ClassVar[str] = "simulator"

    def __init__(
        self,
        *,
        outbox: SimulatorOutbox,
        number: str = SIMULATOR_NUMBER,
        default_region: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._outbox = outbox
        self._number = number
        self._region = default_region
        self._clock = clock

    def send(self, *, message: OutboundMessage) -> SendResult:
        info = analyze(message.text)
        provider_id = f"sim-{uuid.uuid4().hex}"
        now = self._clock()
        self._outbox.deliver(
            phone=message.to,
            message=SimulatedMessage(
                provider_message_id=provider_id,
                from_=message.sender,
                to=message.to,
                text=message.text,
                media=message.media,
                encoding=info.encoding,
                segments=info.segments,
                client_ref=message.client_ref,
                sent_at=now,
            ),
        )
        for status in ("sent", "delivered"):
            self._outbox.report(
                report=DeliveryReport(
                    provider=self.name,
                    provider_message_id=provider_id,
                    status=status,
                    provider_status=status,
                    occurred_at=now,
                    to=message.to,
                    client_ref=message.client_ref,
                )
            )
        return SendResult(
            provider=self.name,
            provider_message_id=provider_id,
            segments=info.segments,
            encoding=info.encoding,
        )

    def parse_inbound(self, *, request: WebhookRequest) -> list[InboundMessage]:
        """Read ``{"from": "+E164", "body": "...", "media"?: [{url, content_type}]}``, capped by ``channels.limits``.

        Raises:
            MalformedWebhook: not a JSON object, or ``from`` / ``body`` missing.
            InvalidPhoneNumber: ``from`` is not a valid number.
        """
        payload = request.json
        if not isinstance(payload, dict):
            raise MalformedWebhook("simulator inbound expects a JSON object")
        body = payload.get("body")
        media = _parse_media(payload.get("media"))
        if not payload.get("from") or (not isinstance(body, str)) or (not body and not media):
            raise MalformedWebhook("simulator inbound needs 'from' and a 'body' (or media)")
        sender = normalize_e164(str(payload["from"]), region=self._region, field="from")
        message = InboundMessage(
            provider=self.name,
            provider_message_id=str(payload.get("id") or f"sim-in-{uuid.uuid4().hex}"),
            from_=sender,
            to=self._business_number(payload.get("to")),
            text=body,
            media=media,
            received_at=self._clock(),
            raw=payload,
        )
        capped = cap_inbound(message)  # never None here: the simulator sends no concatenated parts
        return [capped] if capped is not None else []

    def _business_number(self, value: Any) -> str:
        """The number texted: the simulator's own when none is given, else E.164 (or the default region's national
        form) or a 5-6 digit short code.

        Any text was taken: 40 characters failed the event's ingestion on PostgreSQL at every sweep (the
        conversation's sender is 32), and ``"abc"`` became the number replies came from.

        Raises:
            InvalidPhoneNumber: neither a number nor a short code (naming ``to``).
        """
        if value is None or value == "":
            return self._number
        text = str(value).strip()
        if _OUR_NUMBER.match(text):  # E.164 in shape (the simulator's +1555 numbers are not valid ones) or a short code
            return text
        return normalize_e164(text, region=self._region, field="to")

    def parse_status(self, *, request: WebhookRequest) -> list[DeliveryReport]:
        """Read ``{"message_id", "status", "code"?}`` so tests and the UI can simulate outcomes.

        Raises:
            MalformedWebhook: not a JSON object, id missing, or a status outside the known set.
        """
        payload = request.json
        if not isinstance(payload, dict) or not payload.get("message_id"):
            raise MalformedWebhook("simulator status expects a JSON object with message_id")
        status = payload.get("status")
        if status not in DELIVERY_STATUSES:
            raise MalformedWebhook(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        return [
            DeliveryReport(
                provider=self.name,
                provider_message_id=str(payload["message_id"]),
                status=status,
                provider_status=status,
                provider_code=str(payload["code"]) if payload.get("code") is not None else None,
                occurred_at=self._clock(),
                raw=payload,
            )
        ]

    def verify_signature(self, *, request: WebhookRequest) -> None:
        """Accept: the simulator is unsigned by design (see the module docstring)."""
