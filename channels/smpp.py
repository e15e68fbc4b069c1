"""SMPP 3.4 adapter on ``smpplib``: one transceiver bind to a carrier or aggregator SMSC.

A supervisor thread connects, binds (``bind_transceiver``), reads every PDU and keeps the link
alive with ``enquire_link``; when the link drops it reconnects with exponential backoff. Sends
from any number of threads write ``submit_sm`` PDUs (one per segment, UDH-concatenated) under a
lock and wait for their ``submit_sm_resp``; the SMSC's message ids come back in the result.

SMPP has no webhooks: inbound texts and delivery receipts arrive as ``deliver_sm`` over the bind
and are handed to an :class:`SmppListener`. The ``deliver_sm_resp`` is sent only after the listener
returned, so a message is acknowledged once it is persisted; when there is no listener or it
raises, the SMSC gets a temporary error (``ESME_RX_T_APPN``) and delivers again later.
SMPP gives inbound messages no id: each gets a fresh ``smpp-<uuid>`` provider id.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from smpplib import consts, exceptions, smpp
from smpplib.client import Client

from channels import smpp_pdu
from channels.base import (
    THROTTLE_DEFAULT_SECONDS,
    Channel,
    ChannelError,
    ConcatInfo,
    DeliveryReport,
    InboundMessage,
    OutboundMessage,
    SendResult,
    WebhookNotSupported,
    WebhookRequest,
)
from channels.limits import cap_inbound
from channels.phone import to_e164_if_numeric
from core.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "smpp"
#: submit_sm_resp statuses worth retrying later; every other error status is permanent.
RETRYABLE_STATUSES = frozenset(
    {consts.SMPP_ESME_RSYSERR, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RX_T_APPN}
)
#: the SMSC's "slow down": the engine pauses the account (:attr:`channels.base.ChannelError.throttled_for`)
THROTTLE_STATUSES = frozenset({consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RTHROTTLED})
_LINK_ERRORS: tuple[type[Exception], ...] = (exceptions.ConnectionError, exceptions.PDUError, OSError)


@dataclass(frozen=True)
class SmppConfig:
    """Bind parameters and timings (seconds)."""

    host: str
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmppConfig:
        if not settings.smpp_host:
            raise ValueError("RELAIS_SMPP_HOST is required for the smpp channel")
        return cls(
            host=settings.smpp_host,
            port=settings.smpp_port,
            system_id=settings.smpp_system_id,
            password=settings.smpp_password,
        )


class SmppListener(ABC):
    """Receives what the SMSC delivers; both methods must persist before returning."""

    @abstractmethod
    def on_inbound(self, *, message: InboundMessage) -> None:
        """A customer text (or one part of a concatenated one, see ``message.concat``)."""

    @abstractmethod
    def on_report(self, *, report: DeliveryReport) -> None:
        """A delivery receipt for a part we submitted (``report.provider_message_id``)."""


def _address(value: str) -> tuple[int, int, str]:
    """(TON, NPI, digits): international for E.164, alphanumeric for names, network-specific short codes."""
    if value.startswith("+"):
        return consts.SMPP_TON_INTL, consts.SMPP_NPI_ISDN, value[1:]
    if not value.isdigit():
        return consts.SMPP_TON_ALNUM, consts.SMPP_NPI_UNK, value
    if len(value) <= 8:
        return consts.SMPP_TON_NWSPEC, consts.SMPP_NPI_UNK, value
    return consts.SMPP_TON_INTL, consts.SMPP_NPI_ISDN, value


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def submit_error(status: int) -> ChannelError:
    """Map a submit_sm_resp error status to a :class:`ChannelError`."""
    description = consts.DESCRIPTIONS.get(status, "unknown status")
    return ChannelError(
        f"SMSC refused submit_sm: 0x{status:08X} {description}",
        retryable=status in RETRYABLE_STATUSES,
        provider_code=f"0x{status:08X}",
        throttled_for=THROTTLE_DEFAULT_SECONDS if status in THROTTLE_STATUSES else None,
    )


class SmppChannel(Channel):
    """See the module docstring. Thread-safe; call :meth:`close` on shutdown."""

    name: ClassVar[str] = "smpp"

    def __init__(
        self,
        config: SmppConfig,
        *,
        listener: SmppListener | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._listener = listener
        self._clock = clock
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._client: Client | None = None
        self._bound = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refs = itertools.count()
        self.last_error = ""
        self.binds = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, listener: SmppListener | None = None) -> SmppChannel:
        return cls(SmppConfig.from_settings(settings), listener=listener)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *, listener: SmppListener | None = None) -> None:
        """Start connecting in the background (idempotent); ``send`` starts it too."""
        with self._start_lock:
            if listener is not None:
                self._listener = listener
            if self._thread is None:
                self._thread = threading.Thread(target=self._supervise, name="smpp-link", daemon=True)
                self._thread.start()

    @property
    def is_bound(self) -> bool:
        return self._bound.is_set()

    def wait_bound(self, timeout: float) -> bool:
        """Block until the link is bound or ``timeout`` passes; True when bound."""
        return self._bound.wait(timeout)

    def close(self) -> None:
        """Unbind, disconnect and stop reconnecting."""
        self._stop.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                self._request(client, "unbind")
            self._shutdown_socket(client)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _supervise(self) -> None:
        delay = self.config.reconnect_initial
        while not self._stop.is_set():
            client = Client(
                self.config.host,
                self.config.port,
                timeout=self.config.connect_timeout,
                allow_unknown_opt_params=True,
            )
            try:
                client.connect()
                client.bind_transceiver(
                    system_id=self.config.system_id,
                    password=self.config.password,
                    system_type=self.config.system_type,
                )
            except _LINK_ERRORS as exc:
                self.last_error = f"bind to {self.config.host}:{self.config.port} failed: {exc}"
                log.warning("smpp: %s; retrying in %.1f s", self.last_error, delay)
                client.disconnect()
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.reconnect_max)
                continue
            delay = self.config.reconnect_initial
            self._serve(client)
            if not self._stop.is_set():
                self._stop.wait(delay)

    def _serve(self, client: Client) -> None:
        assert client._socket is not None
        client._socket.settimeout(self.config.enquire_link_interval)
        self._client = client
        self.binds += 1
        self._bound.set()
        try:
            self._read_loop(client)
        finally:
            self._bound.clear()
            with self._write_lock:
                self._client = None
                self._fail_pending("SMPP link lost while waiting for submit_sm_resp")
            client.disconnect()

    def _read_loop(self, client: Client) -> None:
        last_rx = time.monotonic()
        while not self._stop.is_set():
            try:
                pdu = client.read_pdu()
            except TimeoutError:
                if time.monotonic() - last_rx > 2 * self.config.enquire_link_interval:
                    self.last_error = "SMSC stopped answering enquire_link"
                    return
                try:
                    self._request(client, "enquire_link")
                except _LINK_ERRORS:
                    return
                continue
            except _LINK_ERRORS as exc:
                self.last_error = f"link dropped: {exc.__class__.__name__}"
                return
            last_rx = time.monotonic()
            if not self._dispatch(client, pdu):
                return

    def _shutdown_socket(self, client: Client) -> None:
        sock = client._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- PDUs --------------------------------------------------------------------------------

    def _request(self, client: Client, command: str) -> None:
        # make_pdu draws the next sequence number from the client: build and send under one lock.
        with self._write_lock:
            client.send_pdu(smpp.make_pdu(command, client=client))

    def _respond(self, client: Client, command: str, sequence: int, status: int = consts.SMPP_ESME_ROK) -> None:
        with self._write_lock:
            response = smpp.make_pdu(command, client=client, status=status)
            response.sequence = sequence
            client.send_pdu(response)

    def _dispatch(self, client: Client, pdu: Any) -> bool:
        """Act on one PDU; False when the link is closing."""
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            future = self._pending.pop(pdu.sequence, None)
            if future is not None:
                future.set_result(pdu)
        elif command == "deliver_sm":
            self._respond(client, "deliver_sm_resp", pdu.sequence, self._deliver(pdu))
        elif command == "enquire_link":
            self._respond(client, "enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            self._respond(client, "unbind_resp", pdu.sequence)
            self.last_error = "SMSC unbound"
            return False
        elif command == "unbind_resp":
            return False
        elif command != "enquire_link_resp":
            log.info("smpp: ignoring %s", command)
        return True

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(ChannelError(reason, retryable=True, provider_code="link-lost", outcome_unknown=True))

    def _deliver(self, pdu: Any) -> int:
        listener = self._listener
        if listener is None:
            log.warning("smpp: deliver_sm with no listener; asking the SMSC to retry")
            return consts.SMPP_ESME_RX_T_APPN
        try:
            esm_type = (pdu.esm_class or 0) & smpp_pdu.ESM_TYPE_MASK
            if esm_type in (smpp_pdu.ESM_DELIVERY_RECEIPT, smpp_pdu.ESM_INTERMEDIATE_NOTIFICATION):
                listener.on_report(report=self._report(pdu))
            else:
                message = cap_inbound(self._inbound(pdu))
                if message is not None:  # a part past the kept ones is acknowledged and dropped
                    listener.on_inbound(message=message)
        except Exception:
            log.exception("smpp: could not hand over deliver_sm; asking the SMSC to retry")
            return consts.SMPP_ESME_RX_T_APPN
        return consts.SMPP_ESME_ROK

    def _inbound(self, pdu: Any) -> InboundMessage:
        body = pdu.short_message or pdu.message_payload or b""
        concat, payload = smpp_pdu.split_udh(body, pdu.esm_class or 0)
        if concat is None and pdu.sar_msg_ref_num is not None:
            concat = ConcatInfo(
                ref=str(pdu.sar_msg_ref_num), part=pdu.sar_segment_seqnum or 1, total=pdu.sar_total_segments or 1
            )
        return InboundMessage(
            provider=PROVIDER,
            provider_message_id=f"smpp-{uuid.uuid4().hex}",
            from_=to_e164_if_numeric(_text(pdu.source_addr)),
            to=to_e164_if_numeric(_text(pdu.destination_addr)),
            text=smpp_pdu.decode_text(payload, pdu.data_coding or 0),
            received_at=self._clock(),
            concat=concat,
            raw={"data_coding": pdu.data_coding, "esm_class": pdu.esm_class},
        )

    def _report(self, pdu: Any) -> DeliveryReport:
        text = _text(pdu.short_message or pdu.message_payload)
        receipt = smpp_pdu.parse_receipt(
            text,
            receipted_message_id=_text(pdu.receipted_message_id) or None,
            message_state=pdu.message_state,
        )
        return DeliveryReport(
            provider=PROVIDER,
            provider_message_id=receipt.message_id,
            status=receipt.status,
            provider_status=receipt.stat,
            provider_code=receipt.error,
            occurred_at=receipt.done_at or self._clock(),
            to=to_e164_if_numeric(_text(pdu.source_addr)) or None,
            raw={"text": text},
        )

    # -- Channel -----------------------------------------------------------------------------

    def send(self, *, message: OutboundMessage) -> SendResult:
        if message.is_mms:
            raise ChannelError("SMPP cannot carry MMS media", retryable=False, provider_code="mms-unsupported")
        self.start()
        if not self._bound.wait(self.config.connect_timeout):
            raise ChannelError(
                f"SMPP link is down ({self.last_error or 'not bound yet'})", retryable=True, provider_code="link-down"
            )
        encoded = smpp_pdu.encode_text(message.text, ref=next(self._refs) % 256)
        src_ton, src_npi, source = _address(message.sender)
        _, _, destination = _address(message.to)
        fields = {
            "source_addr_ton": src_ton,
            "source_addr_npi": src_npi,
            "source_addr": source,
            "dest_addr_ton": consts.SMPP_TON_INTL,
            "dest_addr_npi": consts.SMPP_NPI_ISDN,
            "destination_addr": destination,
            "esm_class": encoded.esm_class,
            "data_coding": encoded.data_coding,
            "registered_delivery": 1,
            "validity_period": smpp_pdu.relative_validity(message.validity_seconds)
            if message.validity_seconds
            else None,
        }
        submitted = [self._submit(short_message=part, **fields) for part in encoded.parts]
        ids = [self._await(sequence, future) for sequence, future in submitted]
        return SendResult(
            provider=PROVIDER,
            provider_message_id=ids[0],
            segments=len(ids),
            encoding=encoded.encoding,
            part_ids=tuple(ids),
        )

    def _submit(self, **fields: Any) -> tuple[int, Future[Any]]:
        future: Future[Any] = Future()
        with self._write_lock:
            client = self._client
            if client is None:
                raise ChannelError("SMPP link dropped before submit", retryable=True, provider_code="link-down")
            pdu = smpp.make_pdu("submit_sm", client=client, **fields)
            self._pending[pdu.sequence] = future
            try:
                client.send_pdu(pdu)
            except _LINK_ERRORS as exc:
                self._pending.pop(pdu.sequence, None)
                raise ChannelError(
                    f"SMPP write failed: {exc.__class__.__name__}", retryable=True, provider_code="link-down"
                ) from None
        return pdu.sequence, future

    def _await(self, sequence: int, future: Future[Any]) -> str:
        try:
            response = future.result(timeout=self.config.response_timeout)
        except FutureTimeout:
            self._pending.pop(sequence, None)
            raise ChannelError(
                "no submit_sm_resp in time", retryable=True, provider_code="timeout", outcome_unknown=True
            ) from None
        if response.status != consts.SMPP_ESME_ROK:
            raise submit_error(response.status)
        return _text(response.message_id)

    def parse_inbound(self, *, request: WebhookRequest) -> list[InboundMessage]:
        raise WebhookNotSupported("SMPP delivers inbound messages over the bind, not webhooks")

    def parse_status(self, *, request: WebhookRequest) -> list[DeliveryReport]:
        raise WebhookNotSupported("SMPP delivers receipts over the bind, not webhooks")

    def verify_signature(self, *, request: WebhookRequest) -> None:
        raise WebhookNotSupported("SMPP receives no webhooks")
