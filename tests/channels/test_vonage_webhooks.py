"""Vonage webhook signatures (signed here, independently of the SDK) and parsing for both APIs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest

from channels.base import ConcatInfo, MalformedWebhook, SignatureError, WebhookRequest
from channels.vonage import VonageChannel, VonageConfig
from tests.channels.conftest import API_KEY, API_SECRET, SIGNATURE_SECRET

NOW = 1_760_000_000.0


@pytest.fixture
def channel() -> VonageChannel:
    return VonageChannel(
        VonageConfig(api_key=API_KEY, api_secret=API_SECRET, signature_secret=SIGNATURE_SECRET),
        clock=lambda: NOW,
    )


def sign_params(params: dict[str, str], secret: str = SIGNATURE_SECRET) -> dict[str, str]:
    """Vonage's SMS API webhook signature: HMAC-SHA256 over sorted ``&key=value`` pairs."""
    digest = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    for key in sorted(params):
        value = params[key].replace("&", "_").replace("=", "_")
        digest.update(f"&{key}={value}".encode())
    return {**params, "sig": digest.hexdigest()}


def messages_request(
    payload: dict, *, iat: float = NOW, secret: str = SIGNATURE_SECRET, body: bytes | None = None
) -> WebhookRequest:
    raw = json.dumps(payload).encode()
    token = jwt.encode(
        {
            "iat": int(iat),
            "jti": str(uuid.uuid4()),
            "iss": "Vonage",
            "payload_hash": hashlib.sha256(raw).hexdigest(),
            "api_key": API_KEY,
        },
        secret,
        algorithm="HS256",
    )
    return WebhookRequest.build(
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        body=body if body is not None else raw,
    )


INBOUND_SMS = {
    "msisdn": "33612345678",
    "to": "33700000000",
    "messageId": "0A0000000123ABCD1",
    "text": "Bonjour & merci = top",
    "type": "text",
    "keyword": "BONJOUR",
    "api-key": API_KEY,
    "message-timestamp": "2025-10-09 08:53:20",
    "timestamp": str(int(NOW)),
    "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
}


# --- SMS API signatures -------------------------------------------------------------------------


def test_sms_signed_get_query_is_accepted(channel: VonageChannel) -> None:
    request = WebhookRequest.build(method="GET", query=sign_params(INBOUND_SMS))
    channel.verify_signature(request=request)


def test_sms_signed_form_post_is_accepted(channel: VonageChannel) -> None:
    from urllib.parse import urlencode

    body = urlencode(sign_params(INBOUND_SMS)).encode()
    request = WebhookRequest.build(
        method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
    )
    channel.verify_signature(request=request)
    assert request.form is not None and request.form["text"] == INBOUND_SMS["text"]


@pytest.mark.parametrize(
    "body",
    [
        "msisdn=33612&message-timestamp=2026-11-30+04%3A00%3A00&text=a%26b%3Dc+%C3%A9&sig=ab",
        "a=1&b=&c&&a=2&=v&k%3Dx=%2B+&bad=%zz%e9&e=b=c",  # repeats (last wins), blanks, bare names, bad escapes
        "",
    ],
)
def test_a_form_body_reads_as_parse_qsl_reads_it(body: str) -> None:
    """The form is split without ``parse_qsl`` (it decoded every field: a quarter of a status webhook's
    parsing), field for field the same."""
    from urllib.parse import parse_qsl

    from channels.base import form_fields

    request = WebhookRequest.build(method="POST", headers={"content-type": "application/x-www-form-urlencoded"},
                                   body=body.encode())  # fmt: skip
    assert request.form == form_fields(body) == dict(parse_qsl(body, keep_blank_values=True))


def test_sms_unsigned_is_refused(channel: VonageChannel) -> None:
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=INBOUND_SMS))
    assert caught.value.problem == "unsigned"
    assert caught.value.status_code == 401


def test_sms_tampered_or_wrong_secret_is_refused(channel: VonageChannel) -> None:
    tampered = {**sign_params(INBOUND_SMS), "text": "send me money"}
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=tampered))
    assert caught.value.problem == "bad_signature"
    other = sign_params(INBOUND_SMS, secret="another-secret-0123456789-0123456789")
    with pytest.raises(SignatureError, match="sig does not match"):
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=other))


def test_sms_non_ascii_sig_is_a_mismatch_not_a_crash(channel: VonageChannel) -> None:
    forged = {**sign_params(INBOUND_SMS), "sig": "é" * 64}  # compared as text this raised TypeError (a 500)
    with pytest.raises(SignatureError, match="sig does not match"):
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=forged))


def test_sms_stale_signature_is_a_replay(channel: VonageChannel) -> None:
    stale = sign_params({**INBOUND_SMS, "timestamp": str(int(NOW) - 301)})
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=stale))
    assert caught.value.problem == "replay"
    fresh_enough = sign_params({**INBOUND_SMS, "timestamp": str(int(NOW) - 299)})
    channel.verify_signature(request=WebhookRequest.build(method="GET", query=fresh_enough))
    future = sign_params({**INBOUND_SMS, "timestamp": str(int(NOW) + 600)})
    with pytest.raises(SignatureError, match="future"):
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=future))


def test_sms_signature_without_timestamp_is_refused(channel: VonageChannel) -> None:
    params = {k: v for k, v in INBOUND_SMS.items() if k != "timestamp"}
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=sign_params(params)))
    assert caught.value.problem == "bad_signature"


def test_no_signature_secret_refuses_everything() -> None:
    channel = VonageChannel(VonageConfig(api_key=API_KEY, api_secret=API_SECRET), clock=lambda: NOW)
    with pytest.raises(SignatureError):
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=sign_params(INBOUND_SMS)))
    with pytest.raises(SignatureError):
        channel.verify_signature(request=messages_request({"message_uuid": "x"}))


# --- Messages API signatures --------------------------------------------------------------------


def test_messages_jwt_valid(channel: VonageChannel) -> None:
    channel.verify_signature(request=messages_request({"message_uuid": "u1", "status": "delivered"}))


def test_messages_jwt_wrong_secret(channel: VonageChannel) -> None:
    request = messages_request({"message_uuid": "u1"}, secret="not-the-secret-0123456789-0123456789")
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=request)
    assert caught.value.problem == "bad_signature"


def test_messages_jwt_garbage_token(channel: VonageChannel) -> None:
    request = WebhookRequest.build(method="POST", headers={"Authorization": "Bearer not.a.jwt"}, body=b"{}")
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=request)
    assert caught.value.problem == "bad_signature"


def test_messages_jwt_stale_is_replay(channel: VonageChannel) -> None:
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=messages_request({"message_uuid": "u1"}, iat=NOW - 301))
    assert caught.value.problem == "replay"


def test_messages_jwt_body_swapped_fails_payload_hash(channel: VonageChannel) -> None:
    request = messages_request({"message_uuid": "u1", "text": "hi"}, body=b'{"message_uuid": "u1", "text": "evil"}')
    with pytest.raises(SignatureError, match="payload_hash"):
        channel.verify_signature(request=request)


def test_messages_unsigned_json_is_refused(channel: VonageChannel) -> None:
    request = WebhookRequest.build(
        method="POST", headers={"content-type": "application/json"}, body=b'{"message_uuid":"u"}'
    )
    with pytest.raises(SignatureError) as caught:
        channel.verify_signature(request=request)
    assert caught.value.problem == "unsigned"


# --- parsing ------------------------------------------------------------------------------------


def test_parse_sms_api_inbound_with_concat(channel: VonageChannel) -> None:
    params = {**INBOUND_SMS, "concat": "true", "concat-ref": "108", "concat-total": "3", "concat-part": "2"}
    (message,) = channel.parse_inbound(request=WebhookRequest.build(method="GET", query=params))
    assert message.provider == "vonage-sms"
    assert message.provider_message_id == "0A0000000123ABCD1"
    assert message.from_ == "+33612345678"
    assert message.to == "+33700000000"
    assert message.text == "Bonjour & merci = top"
    assert message.concat == ConcatInfo(ref="108", part=2, total=3)
    assert message.received_at == datetime(2025, 10, 9, 8, 53, 20, tzinfo=UTC)


def test_parse_sms_api_inbound_from_json_post(channel: VonageChannel) -> None:
    body = json.dumps(INBOUND_SMS).encode()
    request = WebhookRequest.build(method="POST", headers={"content-type": "application/json"}, body=body)
    (message,) = channel.parse_inbound(request=request)
    assert message.concat is None
    assert message.text == INBOUND_SMS["text"]


def test_parse_messages_api_inbound_text_and_mms(channel: VonageChannel) -> None:
    text = {
        "channel": "sms",
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": "447700900000",
        "from": "447700900001",
        "timestamp": "2025-02-03T12:14:25Z",
        "text": "Hello there",
        "message_type": "text",
        "sms": {"num_messages": "1"},
    }
    (message,) = channel.parse_inbound(request=messages_request(text))
    assert message.provider == "vonage-messages"
    assert message.from_ == "+447700900001"
    assert message.text == "Hello there"
    assert message.received_at == datetime(2025, 2, 3, 12, 14, 25, tzinfo=UTC)
    mms = {
        **text,
        "channel": "mms",
        "message_type": "image",
        "image": {"url": "https://api.nexmo.com/v3/media/abc.jpg", "caption": "my cat"},
    }
    mms.pop("text")
    (message,) = channel.parse_inbound(request=messages_request(mms))
    assert message.text == "my cat"
    assert message.media[0].url == "https://api.nexmo.com/v3/media/abc.jpg"
    assert message.media[0].content_type == "image/jpeg"


def test_parse_inbound_rejects_unknown_shapes(channel: VonageChannel) -> None:
    with pytest.raises(MalformedWebhook):
        channel.parse_inbound(request=WebhookRequest.build(method="GET", query={"hello": "world"}))
    with pytest.raises(MalformedWebhook, match="lacks"):
        channel.parse_inbound(request=WebhookRequest.build(method="GET", query={"msisdn": "33612345678"}))
    bad_concat = {**INBOUND_SMS, "concat": "true", "concat-ref": "1", "concat-part": "x", "concat-total": "2"}
    with pytest.raises(MalformedWebhook, match="integers"):
        channel.parse_inbound(request=WebhookRequest.build(method="GET", query=bad_concat))
    with pytest.raises(MalformedWebhook, match="JSON"):
        WebhookRequest.build(method="POST", headers={"content-type": "application/json"}, body=b"{nope")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("delivered", "delivered"),
        ("accepted", "sent"),
        ("buffered", "sent"),
        ("expired", "expired"),
        ("failed", "failed"),
        ("rejected", "rejected"),
        ("unknown", "unknown"),
        ("weird", "unknown"),
    ],
)
def test_parse_sms_api_dlr(channel: VonageChannel, raw: str, status: str) -> None:
    dlr = {
        "msisdn": "33612345678",
        "to": "Relais",
        "network-code": "20810",
        "messageId": "0B00000012345678",
        "price": "0.03330000",
        "status": raw,
        "scts": "2510090853",
        "err-code": "0" if raw == "delivered" else "6",
        "message-timestamp": "2025-10-09 08:53:20",
        "client-ref": "msg-1",
    }
    (report,) = channel.parse_status(request=WebhookRequest.build(method="GET", query=dlr))
    assert report.status == status
    assert report.provider_status == raw
    assert report.provider_code == (None if raw == "delivered" else "6")
    assert report.to == "+33612345678"
    assert report.client_ref == "msg-1"
    assert report.price_micros == 33_300


@pytest.mark.parametrize(
    ("written", "occurred_at"),
    [
        ("2025-10-09 08:53:20", datetime(2025, 10, 9, 8, 53, 20, tzinfo=UTC)),  # the SMS API's: UTC
        (" 2025-10-09T10:53:20+02:00 ", datetime(2025, 10, 9, 8, 53, 20, tzinfo=UTC)),
        ("2025-02-03T12:14:25.250Z", datetime(2025, 2, 3, 12, 14, 25, 250000, tzinfo=UTC)),
        ("09/10/2025 08:53", None),  # unreadable: the time the report arrived
        ("", None),
    ],
)
def test_a_report_time_reads_the_same_however_often_it_is_seen(written: str, occurred_at: datetime | None) -> None:
    """A time text is read once and kept (a campaign's reports share a few), so the same text must give the
    same time each time, and an unreadable one each report's own arrival time, not the first one's."""
    for now in (NOW, NOW + 60, NOW + 120):
        channel = VonageChannel(VonageConfig(api_key=API_KEY, api_secret=API_SECRET), clock=lambda now=now: now)
        query = {"messageId": "0B01", "status": "delivered", "message-timestamp": written}
        (report,) = channel.parse_status(request=WebhookRequest.build(method="GET", query=query))
        assert report.occurred_at == (occurred_at or datetime.fromtimestamp(now, UTC))
        assert report.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "status"),
    [("submitted", "sent"), ("delivered", "delivered"), ("rejected", "rejected"), ("undeliverable", "failed")],
)
def test_parse_messages_api_status(channel: VonageChannel, raw: str, status: str) -> None:
    payload = {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": "447700900000",
        "from": "447700900001",
        "timestamp": "2025-02-03T12:14:25.000Z",
        "status": raw,
        "channel": "sms",
        "client_ref": "m-7",
        "usage": {"currency": "EUR", "price": "0.0333"},
    }
    if raw in ("rejected", "undeliverable"):
        payload["error"] = {
            "type": "https://developer.vonage.com/api-errors/messages#1320",
            "title": "1320",
            "detail": "Message failed because the number was invalid",
        }
    (report,) = channel.parse_status(request=messages_request(payload))
    assert report.status == status
    assert report.currency == "EUR" and report.price_micros == 33_300
    assert report.client_ref == "m-7"
    assert report.provider_code == ("1320" if raw in ("rejected", "undeliverable") else None)
    assert report.occurred_at == datetime(2025, 2, 3, 12, 14, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "micros"),
    [("0.03330000", 33_300), ("0.0333", 33_300), ("0.0333", 33_300), ("0.00000050", 0), ("0.0000015", 2),
     ("12", 12_000_000), ("abc", None), ("", None), (None, None), (True, None), (1, 1_000_000), (1.0, 1_000_000),
     (True, None), ("1", 1_000_000), (0.5, 500_000)],
)  # fmt: skip
def test_prices_read_the_same_whether_converted_or_remembered(value: object, micros: int | None) -> None:
    """Text prices are remembered once converted; 1, 1.0 and True are not one price (a cache keyed by them is)."""
    from channels.vonage_webhooks import price_to_micros

    assert price_to_micros(value) == micros
    assert price_to_micros(value) == micros


def test_parse_status_rejects_inbound_shape(channel: VonageChannel) -> None:
    with pytest.raises(MalformedWebhook):
        channel.parse_status(request=WebhookRequest.build(method="GET", query={"foo": "bar"}))


def test_real_clock_is_used_by_default() -> None:
    channel = VonageChannel(VonageConfig(api_key=API_KEY, api_secret=API_SECRET, signature_secret=SIGNATURE_SECRET))
    fresh = sign_params({**INBOUND_SMS, "timestamp": str(int(time.time()))})
    channel.verify_signature(request=WebhookRequest.build(method="GET", query=fresh))


def test_messages_jwt_without_payload_hash_is_refused(channel: VonageChannel) -> None:
    """Such a token signs nothing about the body: it would be reusable with any body for 5 minutes."""
    token = jwt.encode({"iat": int(NOW), "jti": str(uuid.uuid4()), "iss": "Vonage"}, SIGNATURE_SECRET, "HS256")
    request = WebhookRequest.build(
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        body=json.dumps({"message_uuid": "u1", "from": "33612345678", "to": "33700000000", "text": "hi"}).encode(),
    )
    with pytest.raises(SignatureError, match="payload_hash"):
        channel.verify_signature(request=request)


@pytest.mark.parametrize(
    ("field", "value"),
    [("from", ["33612345678", "33600000000"]), ("text", ["a", "b"]), ("to", {"n": 1}), ("text", True)],
)
def test_signed_messages_with_wrong_field_types_are_refused(channel: VonageChannel, field: str, value: object) -> None:
    payload = {
        "message_uuid": "u-types",
        "from": "33612345678",
        "to": "33700000000",
        "text": "hi",
        "message_type": "text",
        field: value,
    }
    request = messages_request(payload)
    channel.verify_signature(request=request)  # the signature is fine: the shape is not
    with pytest.raises(MalformedWebhook) as err:
        channel.parse_inbound(request=request)
    assert err.value.errors == [{"field": field, "reason": "wrong_type"}]
    status = messages_request({"message_uuid": "u-types", "status": ["delivered"]})
    with pytest.raises(MalformedWebhook, match="status"):
        channel.parse_status(request=status)


@pytest.mark.parametrize("stamp", ["NaN", "nan", "-nan", "inf", "-Infinity", "1e999", "9" * 400])
def test_sms_signature_dated_with_no_time_is_refused(channel: VonageChannel, stamp: str) -> None:
    """Every comparison with NaN is false, so a request signed with timestamp=NaN was neither too old nor in the
    future: fresh for ever, replayable at will. A timestamp must be a finite number."""
    params = sign_params({**INBOUND_SMS, "timestamp": stamp})
    with pytest.raises(SignatureError, match="no readable issue time") as caught:
        channel.verify_signature(request=WebhookRequest.build(method="GET", query=params))
    assert caught.value.problem == "bad_signature"

