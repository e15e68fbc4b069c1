"""SMPP adapter against the loopback SMSC in tests/channels/fakes/smpp_server.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from smpplib import consts

from channels.base import (
    ChannelError,
    ConcatInfo,
    DeliveryReport,
    InboundMessage,
    MediaItem,
    OutboundMessage,
    WebhookNotSupported,
    WebhookRequest,
)
from channels.encoding import gsm7_decode
from channels.smpp import SmppChannel, SmppConfig, SmppListener
from tests.channels.fakes.smpp_server import SILENT, FakeSmsc

TO = "+33612345678"


class Recorder(SmppListener):
    def __init__(self) -> None:
        self.inbound: list[InboundMessage] = []
        self.reports: list[DeliveryReport] = []
        self.fail = False

    def on_inbound(self, *, message: InboundMessage) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.inbound.append(message)

    def on_report(self, *, report: DeliveryReport) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.reports.append(report)


def config(port: int, **overrides: object) -> SmppConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": "relais",
        "password": "secret",
        "enquire_link_interval": 0.3,
        "response_timeout": 1.0,
        "connect_timeout": 2.0,
        "reconnect_initial": 0.05,
        "reconnect_max": 0.2,
    }
    values.update(overrides)
    return SmppConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def smsc() -> Iterator[FakeSmsc]:
    server = FakeSmsc()
    yield server
    server.stop()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def channel(smsc: FakeSmsc, recorder: Recorder) -> Iterator[SmppChannel]:
    chan = SmppChannel(config(smsc.port), listener=recorder)
    chan.start()
    assert chan.wait_bound(3)
    yield chan
    chan.close()


def test_short_gsm_message(channel: SmppChannel, smsc: FakeSmsc) -> None:
    result = channel.send(
        message=OutboundMessage(to=TO, sender="+33700000000", text="Hi {you} €5", validity_seconds=3_600)
    )
    assert result.provider == "smpp"
    assert (result.encoding, result.segments) == ("GSM-7", 1)
    (sub,) = smsc.submitted
    assert result.provider_message_id == sub.message_id == result.part_ids[0]
    assert sub.destination_addr == "33612345678" and sub.dest_addr_ton == consts.SMPP_TON_INTL
    assert sub.source_addr == "33700000000" and sub.source_addr_ton == consts.SMPP_TON_INTL
    assert (sub.data_coding, sub.esm_class, sub.registered_delivery) == (0, 0, 1)
    assert gsm7_decode(sub.short_message) == "Hi {you} €5"
    assert sub.validity_period == "000000010000000R"


def test_alphanumeric_and_short_code_senders(channel: SmppChannel, smsc: FakeSmsc) -> None:
    channel.send(message=OutboundMessage(to=TO, sender="Relais", text="a"))
    channel.send(message=OutboundMessage(to=TO, sender="36123", text="b"))
    assert [(s.source_addr, s.source_addr_ton) for s in smsc.submitted] == [
        ("Relais", consts.SMPP_TON_ALNUM),
        ("36123", consts.SMPP_TON_NWSPEC),
    ]


def test_long_gsm_message_is_concatenated_without_splitting_escapes(channel: SmppChannel, smsc: FakeSmsc) -> None:
    text = "x" * 152 + "€" + "y" * 100  # the euro sign would straddle the 153-septet boundary
    result = channel.send(message=OutboundMessage(to=TO, sender="Relais", text=text))
    assert result.segments == 2 and len(result.part_ids) == 2
    first, second = smsc.submitted
    assert first.esm_class & 0x40 and first.data_coding == 0
    assert first.short_message[:6] == bytes((5, 0, 3, first.short_message[3], 2, 1))
    assert second.short_message[:6] == bytes((5, 0, 3, first.short_message[3], 2, 2))
    assert len(first.short_message) - 6 == 152  # one septet short rather than half an escape
    joined = gsm7_decode(first.short_message[6:]) + gsm7_decode(second.short_message[6:])
    assert joined == text


def test_ucs2_message_keeps_surrogate_pairs_whole(channel: SmppChannel, smsc: FakeSmsc) -> None:
    text = "a" * 66 + "😀" + "b" * 10
    result = channel.send(message=OutboundMessage(to=TO, sender="Relais", text=text))
    assert (result.encoding, result.segments) == ("UCS-2", 2)
    parts = [s.short_message[6:].decode("utf-16-be") for s in smsc.submitted]  # strict: no half pair
    assert all(s.data_coding == 8 for s in smsc.submitted)
    assert "".join(parts) == text


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (consts.SMPP_ESME_RTHROTTLED, True),
        (consts.SMPP_ESME_RMSGQFUL, True),
        (consts.SMPP_ESME_RSYSERR, True),
        (consts.SMPP_ESME_RINVDSTADR, False),
        (consts.SMPP_ESME_RINVSRCADR, False),
    ],
)
def test_submit_error_mapping(channel: SmppChannel, smsc: FakeSmsc, status: int, retryable: bool) -> None:
    smsc.script(status)
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender="Relais", text="hi"))
    assert caught.value.retryable is retryable
    assert caught.value.provider_code == f"0x{status:08X}"


def test_missing_response_times_out_with_unknown_outcome(channel: SmppChannel, smsc: FakeSmsc) -> None:
    smsc.script(SILENT)
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender="Relais", text="hi"))
    assert caught.value.retryable and caught.value.outcome_unknown
    assert caught.value.provider_code == "timeout"


def test_inbound_deliver_sm_is_handed_over_then_acknowledged(
    channel: SmppChannel, smsc: FakeSmsc, recorder: Recorder
) -> None:
    sequence = smsc.deliver(
        source_addr_ton=1,
        source_addr="33612345678",
        destination_addr="36123",
        data_coding=8,
        short_message="Привет 👋".encode("utf-16-be"),
    )
    smsc.wait_for(lambda: len(smsc.deliver_acks) == 1)
    assert smsc.deliver_acks == [(sequence, 0)]
    (message,) = recorder.inbound
    assert (message.from_, message.to, message.text) == ("+33612345678", "36123", "Привет 👋")
    assert message.provider == "smpp" and message.provider_message_id.startswith("smpp-")
    assert message.concat is None


def test_inbound_concatenated_parts_carry_udh_info(channel: SmppChannel, smsc: FakeSmsc, recorder: Recorder) -> None:
    for index, chunk in enumerate((b"Hello ", b"world"), start=1):
        smsc.deliver(
            source_addr="33612345678",
            destination_addr="36123",
            esm_class=0x40,
            data_coding=0,
            short_message=bytes((5, 0, 3, 42, 2, index)) + chunk,
        )
    smsc.wait_for(lambda: len(smsc.deliver_acks) == 2)
    assert [(m.text, m.concat) for m in recorder.inbound] == [
        ("Hello ", ConcatInfo(ref="42", part=1, total=2)),
        ("world", ConcatInfo(ref="42", part=2, total=2)),
    ]


def test_delivery_receipt_with_tlvs_and_text_only(channel: SmppChannel, smsc: FakeSmsc, recorder: Recorder) -> None:
    result = channel.send(message=OutboundMessage(to=TO, sender="Relais", text="hi"))
    receipt = (
        f"id:{result.provider_message_id} sub:001 dlvrd:001 submit date:2510091200 "
        "done date:2510091201 stat:DELIVRD err:000 text:hi"
    )
    smsc.deliver(
        source_addr="33612345678",
        destination_addr="Relais",
        esm_class=0x04,
        short_message=receipt.encode(),
        receipted_message_id=result.provider_message_id,
        message_state=2,
    )
    smsc.deliver(
        source_addr="33612345678",
        destination_addr="Relais",
        esm_class=0x04,
        short_message=b"id:0000BEEF sub:001 dlvrd:000 submit date:2510091200 done date:2510091205 stat:UNDELIV err:034",
    )
    smsc.wait_for(lambda: len(smsc.deliver_acks) == 2)  # acknowledged only after the hand-over
    delivered, failed = recorder.reports
    assert (delivered.provider_message_id, delivered.status, delivered.provider_code) == (
        result.provider_message_id,
        "delivered",
        None,
    )
    assert delivered.occurred_at.isoformat() == "2025-10-09T12:01:00+00:00"
    assert delivered.to == "+33612345678"
    assert (failed.provider_message_id, failed.status, failed.provider_status, failed.provider_code) == (
        "0000BEEF",
        "failed",
        "UNDELIV",
        "034",
    )
    assert [status for _, status in smsc.deliver_acks] == [0, 0]


def test_listener_failure_asks_smsc_to_retry(channel: SmppChannel, smsc: FakeSmsc, recorder: Recorder) -> None:
    recorder.fail = True
    smsc.deliver(source_addr="33612345678", destination_addr="36123", short_message=b"hello")
    smsc.wait_for(lambda: len(smsc.deliver_acks) == 1)
    assert smsc.deliver_acks[0][1] == consts.SMPP_ESME_RX_T_APPN


def test_enquire_link_keeps_the_link_alive(channel: SmppChannel, smsc: FakeSmsc) -> None:
    smsc.wait_for(lambda: smsc.enquire_links >= 2, timeout=3)
    assert channel.is_bound


def test_silent_smsc_is_detected_and_the_link_rebuilt(channel: SmppChannel, smsc: FakeSmsc) -> None:
    smsc.mute = True
    smsc.wait_for(lambda: not channel.is_bound, timeout=3)  # two enquire_link intervals without a word
    assert "enquire_link" in channel.last_error
    smsc.mute = False
    smsc.wait_for(lambda: channel.is_bound and smsc.binds == 2, timeout=3)


def test_reconnects_after_drop_and_fails_in_flight_send(channel: SmppChannel, smsc: FakeSmsc) -> None:
    smsc.script(SILENT)
    errors: list[ChannelError] = []

    def send() -> None:
        try:
            channel.send(message=OutboundMessage(to=TO, sender="Relais", text="in flight"))
        except ChannelError as exc:
            errors.append(exc)

    worker = threading.Thread(target=send)
    worker.start()
    smsc.wait_for(lambda: smsc.submit_requests == 1)  # the SMSC holds it and never answers
    smsc.drop()
    worker.join(timeout=3)
    (error,) = errors
    assert error.retryable and error.outcome_unknown and error.provider_code == "link-lost"
    smsc.wait_for(lambda: smsc.binds == 2 and channel.is_bound, timeout=3)
    result = channel.send(message=OutboundMessage(to=TO, sender="Relais", text="after"))
    assert result.provider_message_id == smsc.submitted[-1].message_id
    assert channel.binds == 2


def test_send_while_smsc_unreachable_is_retryable() -> None:
    server = FakeSmsc()
    port = server.port
    server.stop()
    chan = SmppChannel(config(port, connect_timeout=0.3))
    try:
        with pytest.raises(ChannelError) as caught:
            chan.send(message=OutboundMessage(to=TO, sender="Relais", text="hi"))
        assert caught.value.retryable and caught.value.provider_code == "link-down"
        assert not caught.value.outcome_unknown
        assert "failed" in chan.last_error
    finally:
        chan.close()


def test_wrong_password_never_binds(smsc: FakeSmsc) -> None:
    chan = SmppChannel(config(smsc.port, password="wrong", connect_timeout=0.5))
    try:
        with pytest.raises(ChannelError, match="bind"):
            chan.send(message=OutboundMessage(to=TO, sender="Relais", text="hi"))
        assert smsc.refused_binds >= 1 and smsc.binds == 0
    finally:
        chan.close()


def test_mms_and_webhooks_are_refused(channel: SmppChannel) -> None:
    media = (MediaItem(url="https://x/y.jpg", content_type="image/jpeg"),)
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender="Relais", media=media))
    assert not caught.value.retryable
    request = WebhookRequest.build(method="POST")
    for method in (channel.parse_inbound, channel.parse_status, channel.verify_signature):
        with pytest.raises(WebhookNotSupported):
            method(request=request)


def test_deliver_without_listener_is_not_acknowledged(smsc: FakeSmsc) -> None:
    chan = SmppChannel(config(smsc.port))
    chan.start()
    try:
        assert chan.wait_bound(3)
        smsc.deliver(source_addr="33612345678", destination_addr="36123", short_message=b"hello")
        smsc.wait_for(lambda: len(smsc.deliver_acks) == 1)
        assert smsc.deliver_acks[0][1] == consts.SMPP_ESME_RX_T_APPN
    finally:
        chan.close()


def test_inbound_texts_are_capped_and_parts_past_the_tenth_dropped(
    channel: SmppChannel, smsc: FakeSmsc, recorder: Recorder
) -> None:
    """A 60,000-character message_payload keeps 1,600 characters; part 11 of 200 is acknowledged, not handed over."""
    smsc.deliver(source_addr="33612345678", destination_addr="36123", data_coding=0, message_payload=b"x" * 60_000)
    for index in (1, 11):
        smsc.deliver(
            source_addr="33612345678",
            destination_addr="36123",
            esm_class=0x40,
            data_coding=0,
            short_message=bytes((5, 0, 3, 43, 200, index)) + b"part",
        )
    smsc.wait_for(lambda: len(smsc.deliver_acks) == 3)
    assert [status for _, status in smsc.deliver_acks] == [0, 0, 0]
    assert [(len(m.text), m.truncated, m.concat) for m in recorder.inbound] == [
        (1600, True, None),
        (4, True, ConcatInfo(ref="43", part=1, total=10)),
    ]
