"""The simulator channel behaves like a provider: delivery, reports, inbound JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from channels.base import MalformedWebhook, MediaItem, OutboundMessage, WebhookRequest
from channels.phone import InvalidPhoneNumber
from channels.simulator import SIMULATOR_NUMBER, InMemoryOutbox, SimulatorChannel

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def outbox() -> InMemoryOutbox:
    return InMemoryOutbox()


@pytest.fixture
def channel(outbox: InMemoryOutbox) -> SimulatorChannel:
    return SimulatorChannel(outbox=outbox, default_region="FR", clock=lambda: NOW)


def json_request(payload: object) -> WebhookRequest:
    return WebhookRequest.build(
        method="POST", headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode()
    )


def test_send_delivers_to_the_phone_and_reports_sent_then_delivered(
    channel: SimulatorChannel, outbox: InMemoryOutbox
) -> None:
    text = "Votre commande est prête 🎉 " * 3
    result = channel.send(message=OutboundMessage(to="+33612345678", sender="Relais", text=text, client_ref="m1"))
    assert result.provider == "simulator"
    assert (result.encoding, result.segments) == ("UCS-2", 2)
    (received,) = outbox.messages_for("+33612345678")
    assert received.provider_message_id == result.provider_message_id
    assert (received.text, received.from_, received.client_ref, received.sent_at) == (text, "Relais", "m1", NOW)
    assert [(r.status, r.provider_message_id, r.client_ref) for r in outbox.reports()] == [
        ("sent", result.provider_message_id, "m1"),
        ("delivered", result.provider_message_id, "m1"),
    ]
    assert outbox.messages_for("+33600000000") == []


def test_provider_ids_are_unique(channel: SimulatorChannel) -> None:
    message = OutboundMessage(to="+33612345678", sender="Relais", text="hi")
    ids = {channel.send(message=message).provider_message_id for _ in range(50)}
    assert len(ids) == 50


def test_outbox_keeps_the_most_recent_messages() -> None:
    outbox = InMemoryOutbox(keep=3)
    channel = SimulatorChannel(outbox=outbox)
    for index in range(5):
        channel.send(message=OutboundMessage(to="+33612345678", sender="Relais", text=str(index)))
    assert [m.text for m in outbox.messages_for("+33612345678")] == ["2", "3", "4"]


def test_media_travel_with_the_message(channel: SimulatorChannel, outbox: InMemoryOutbox) -> None:
    media = (MediaItem(url="https://cdn.example.com/a.png", content_type="image/png", size=10),)
    channel.send(message=OutboundMessage(to="+14155550100", sender="+14155550199", text="pic", media=media))
    assert outbox.messages_for("+14155550100")[0].media == media


def test_parse_inbound_normalizes_sender(channel: SimulatorChannel) -> None:
    (message,) = channel.parse_inbound(request=json_request({"from": "06 12 34 56 78", "body": "Bonjour"}))
    assert (message.from_, message.to, message.text) == ("+33612345678", SIMULATOR_NUMBER, "Bonjour")
    assert message.provider == "simulator" and message.received_at == NOW
    assert message.provider_message_id.startswith("sim-in-")


def test_parse_inbound_with_media_only(channel: SimulatorChannel) -> None:
    payload = {"from": "+33612345678", "body": "", "media": [{"url": "https://x/y.jpg", "content_type": "image/jpeg"}]}
    (message,) = channel.parse_inbound(request=json_request(payload))
    assert message.media == (MediaItem(url="https://x/y.jpg", content_type="image/jpeg"),)


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "an", "object"],
        {"body": "no sender"},
        {"from": "+33612345678"},
        {"from": "+33612345678", "body": ""},
        {"from": "+33612345678", "body": "x", "media": "nope"},
        {"from": "+33612345678", "body": "x", "media": [{"content_type": "image/png"}]},
    ],
)
def test_parse_inbound_refuses_malformed(channel: SimulatorChannel, payload: object) -> None:
    with pytest.raises(MalformedWebhook):
        channel.parse_inbound(request=json_request(payload))


def test_parse_inbound_invalid_number_names_from(channel: SimulatorChannel) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        channel.parse_inbound(request=json_request({"from": "12", "body": "hi"}))
    assert caught.value.field == "from"


def test_parse_status_simulates_outcomes(channel: SimulatorChannel) -> None:
    (report,) = channel.parse_status(request=json_request({"message_id": "sim-1", "status": "failed", "code": 34}))
    assert (report.provider_message_id, report.status, report.provider_code) == ("sim-1", "failed", "34")
    with pytest.raises(MalformedWebhook, match="status must be one of"):
        channel.parse_status(request=json_request({"message_id": "sim-1", "status": "exploded"}))
    with pytest.raises(MalformedWebhook):
        channel.parse_status(request=json_request({"status": "sent"}))


def test_unsigned_by_design(channel: SimulatorChannel) -> None:
    channel.verify_signature(request=json_request({"from": "+33612345678", "body": "hi"}))
