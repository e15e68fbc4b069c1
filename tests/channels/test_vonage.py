"""Vonage sends through the real SDK against the fake HTTPS server (tests/channels/fakes)."""

from __future__ import annotations

import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from vonage_sms import SmsMessage

from channels.base import ChannelError, MediaItem, OutboundMessage
from channels.vonage import CachedJwtAuth, VonageChannel, VonageConfig
from core.settings import load_settings
from tests.channels.conftest import API_KEY, API_SECRET, APPLICATION_ID, SIGNATURE_SECRET, AppKeys
from tests.channels.fakes.vonage_server import FakeVonage

TO = "+33612345678"
SENDER = "+33700000000"


def test_config_chooses_api_from_credentials(app_keys: AppKeys) -> None:
    assert VonageConfig(api_key="k", api_secret="s").api == "sms"
    config = VonageConfig(application_id=APPLICATION_ID, private_key=app_keys.private_pem)
    assert config.api == "messages"
    with pytest.raises(ValueError, match="go together"):
        VonageConfig(application_id=APPLICATION_ID)
    with pytest.raises(ValueError, match="needs"):
        VonageConfig()
    with pytest.raises(ValueError, match="signature method"):
        VonageConfig(api_key="k", api_secret="s", signature_method="sha384")
    with pytest.raises(ValueError, match="at most 100"):
        VonageConfig(api_key="k", api_secret="s", status_webhook_url="https://x/" + "a" * 100)
    long_url = load_settings(vonage_api_key="k", vonage_api_secret="s", public_url="https://x/" + "a" * 100)
    assert VonageConfig.from_settings(long_url).status_webhook_url == ""


def test_from_settings_reads_private_key_file(tmp_path, app_keys: AppKeys) -> None:
    key_file = tmp_path / "private.key"
    key_file.write_text(app_keys.private_pem)
    settings = load_settings(
        vonage_api_key=API_KEY,
        vonage_api_secret=API_SECRET,
        vonage_application_id=APPLICATION_ID,
        vonage_private_key_path=str(key_file),
        vonage_signature_secret=SIGNATURE_SECRET,
        vonage_api_host="127.0.0.1:9",
        public_url="https://relais.example.com/",
    )
    config = VonageConfig.from_settings(settings)
    assert config.private_key == app_keys.private_pem
    assert config.api == "messages"
    assert config.api_host == "127.0.0.1:9"
    assert config.status_webhook_url == "https://relais.example.com/webhooks/vonage/status"
    missing = load_settings(vonage_application_id=APPLICATION_ID, vonage_private_key_path=str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="RELAIS_VONAGE_PRIVATE_KEY_PATH"):
        VonageConfig.from_settings(missing)


def test_sms_api_send_gsm(sms_api_channel: VonageChannel, fake_vonage: FakeVonage) -> None:
    result = sms_api_channel.send(
        message=OutboundMessage(to=TO, sender=SENDER, text="Hello [world]", client_ref="msg-1")
    )
    assert result.provider == "vonage-sms"
    assert result.encoding == "GSM-7"
    assert result.segments == 1
    assert result.part_ids == (result.provider_message_id,)
    assert result.price_micros == 33_300
    (request,) = fake_vonage.requests
    assert request.path == "/sms/json"
    assert request.form["to"] == "33612345678"
    assert request.form["from"] == "33700000000"
    assert request.form["type"] == "text"
    assert request.form["client-ref"] == "msg-1"
    assert request.form["status-report-req"] == "True"


def test_sms_api_send_long_unicode_counts_provider_parts(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage
) -> None:
    text = "Привет! " * 20  # 160 UCS-2 units → 3 parts of 67
    result = sms_api_channel.send(message=OutboundMessage(to=TO, sender="Relais", text=text))
    assert result.encoding == "UCS-2"
    assert result.segments == 3
    assert len(result.part_ids) == 3
    assert result.price_micros == 3 * 33_300
    assert fake_vonage.requests[0].form["type"] == "unicode"
    assert fake_vonage.requests[0].form["from"] == "Relais"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [("1", True), ("5", True), ("2", False), ("3", False), ("4", False), ("6", False), ("9", False), ("99", False)],
)
def test_sms_api_error_mapping(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, status: str, retryable: bool
) -> None:
    fake_vonage.fail_next(200, {"message-count": "1", "messages": [{"status": status, "error-text": "nope"}]})
    with pytest.raises(ChannelError) as caught:
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.provider_code == status
    assert caught.value.retryable is retryable
    assert caught.value.outcome_unknown is False


def test_sms_api_partial_failure_reports_failing_part(sms_api_channel: VonageChannel, fake_vonage: FakeVonage) -> None:
    fake_vonage.fail_next(
        200,
        {
            "message-count": "2",
            "messages": [
                {"status": "0", "message-id": "p1", "message-price": "0.03"},
                {"status": "1", "error-text": "Throttled"},
            ],
        },
    )
    with pytest.raises(ChannelError) as caught:
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="x" * 200))
    assert caught.value.provider_code == "1"
    assert caught.value.retryable


def test_sms_api_wrong_credentials_is_permanent(fake_vonage: FakeVonage) -> None:
    channel = VonageChannel(VonageConfig(api_key=API_KEY, api_secret="wrong", rest_host=fake_vonage.host))
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.provider_code == "4"
    assert not caught.value.retryable


def test_sms_api_refuses_mms(sms_api_channel: VonageChannel, fake_vonage: FakeVonage) -> None:
    media = (MediaItem(url="https://cdn.example.com/a.jpg", content_type="image/jpeg"),)
    with pytest.raises(ChannelError, match="Messages API") as caught:
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, media=media))
    assert not caught.value.retryable
    assert fake_vonage.requests == []


def test_messages_api_sms_is_jwt_signed(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, app_keys: AppKeys
) -> None:
    result = messages_channel.send(
        message=OutboundMessage(to=TO, sender=SENDER, text="Café ☕", client_ref="m-7", validity_seconds=3600)
    )
    assert result.provider == "vonage-messages"
    assert result.encoding == "UCS-2"
    assert result.segments == 1
    (request,) = fake_vonage.requests
    assert request.path == "/v1/messages"
    claims = jwt.decode(request.headers["authorization"][7:], app_keys.public_pem, algorithms=["RS256"])
    assert claims["application_id"] == APPLICATION_ID
    body = request.json
    assert body["channel"] == "sms"
    assert body["message_type"] == "text"
    assert body["to"] == "33612345678" and body["from"] == "33700000000"
    assert body["text"] == "Café ☕"
    assert body["sms"] == {"encoding_type": "unicode"}
    assert body["client_ref"] == "m-7"
    assert body["ttl"] == 3600
    assert result.provider_message_id  # the fake's message_uuid


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [("image/jpeg", "image"), ("video/mp4", "video"), ("audio/mpeg", "audio"), ("text/vcard", "vcard")],
)
def test_messages_api_mms_single_media(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, content_type: str, kind: str
) -> None:
    media = (MediaItem(url=f"https://cdn.example.com/file.{kind}", content_type=content_type),)
    result = messages_channel.send(
        message=OutboundMessage(to="+14155550100", sender="+14155550199", text="Look", media=media)
    )
    assert result.segments == 1
    body = fake_vonage.requests[0].json
    assert body["channel"] == "mms"
    assert body["message_type"] == kind
    assert body[kind] == {"url": f"https://cdn.example.com/file.{kind}", "caption": "Look"}


def test_messages_api_mms_several_media_uses_content(messages_channel: VonageChannel, fake_vonage: FakeVonage) -> None:
    media = (
        MediaItem(url="https://cdn.example.com/a.png", content_type="image/png"),
        MediaItem(url="https://cdn.example.com/b.mp4", content_type="video/mp4", caption="clip"),
    )
    messages_channel.send(message=OutboundMessage(to="+14155550100", sender="+14155550199", text="Both", media=media))
    body = fake_vonage.requests[0].json
    assert body["message_type"] == "content"
    assert body["content"] == [
        {"type": "image", "url": "https://cdn.example.com/a.png", "caption": "Both"},
        {"type": "video", "url": "https://cdn.example.com/b.mp4", "caption": "clip"},
    ]


def test_messages_api_rejects_unsupported_media_before_sending(
    messages_channel: VonageChannel, fake_vonage: FakeVonage
) -> None:
    media = (MediaItem(url="https://cdn.example.com/a.pdf", content_type="application/pdf"),)
    with pytest.raises(ChannelError, match="not accepted for MMS") as caught:
        messages_channel.send(message=OutboundMessage(to="+14155550100", sender="+14155550199", media=media))
    assert not caught.value.retryable
    assert fake_vonage.requests == []


@pytest.mark.parametrize(
    ("http_status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (403, False), (422, False)]
)
def test_messages_api_http_error_mapping(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, http_status: int, retryable: bool
) -> None:
    fake_vonage.fail_next(
        http_status,
        {"type": "https://developer.vonage.com/api-errors/messages#1150", "title": "Problem", "detail": "why"},
    )
    with pytest.raises(ChannelError) as caught:
        messages_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.http_status == http_status
    assert caught.value.retryable is retryable
    assert caught.value.provider_code == "1150"
    assert "why" in caught.value.message


def test_messages_api_bad_key_is_permanent_401(fake_vonage: FakeVonage) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    channel = VonageChannel(
        VonageConfig(application_id=APPLICATION_ID, private_key=other.decode(), api_host=fake_vonage.host)
    )
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.http_status == 401
    assert not caught.value.retryable


def test_unreachable_host_is_retryable_and_known_unsent(app_keys: AppKeys) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = VonageChannel(
        VonageConfig(application_id=APPLICATION_ID, private_key=app_keys.private_pem, api_host=f"127.0.0.1:{port}")
    )
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.retryable
    assert caught.value.provider_code == "network"
    assert caught.value.outcome_unknown is False


def test_untrusted_certificate_fails_closed(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # read when the channel is made: a new one trusts only the system CAs
    untrusting = VonageChannel(messages_channel.config)
    with pytest.raises(ChannelError) as caught:
        untrusting.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert caught.value.provider_code == "network"
    assert caught.value.outcome_unknown is False
    assert fake_vonage.requests == []


def test_read_timeout_is_retryable_with_unknown_outcome(fake_vonage: FakeVonage, app_keys: AppKeys) -> None:
    channel = VonageChannel(
        VonageConfig(
            application_id=APPLICATION_ID,
            private_key=app_keys.private_pem,
            api_host=fake_vonage.host,
            timeout_seconds=1,
        )
    )
    fake_vonage.fail_next(202, {"message_uuid": "late"}, delay=1.3)
    with pytest.raises(ChannelError) as caught:
        channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi", client_ref="m-9"))
    assert caught.value.retryable and caught.value.outcome_unknown  # Vonage may have accepted it
    assert fake_vonage.requests[0].json["client_ref"] == "m-9"  # reconcile through client_ref


def test_one_channel_is_shared_by_threads(messages_channel: VonageChannel, fake_vonage: FakeVonage) -> None:
    messages = [OutboundMessage(to=TO, sender=SENDER, text=f"n{i}", client_ref=f"c{i}") for i in range(60)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda m: messages_channel.send(message=m), messages))
    assert len({r.provider_message_id for r in results}) == 60
    assert sorted(r.json["client_ref"] for r in fake_vonage.requests) == sorted(f"c{i}" for i in range(60))


def test_application_jwt_is_reused_then_renewed(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, app_keys: AppKeys
) -> None:
    for _ in range(3):
        messages_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert len({r.headers["authorization"] for r in fake_vonage.requests}) == 1
    auth = CachedJwtAuth(application_id=APPLICATION_ID, private_key=app_keys.private_pem)
    first = auth.generate_application_jwt()
    assert auth.generate_application_jwt() == first
    auth.JWT_REUSE_SECONDS = -1
    renewed = auth.generate_application_jwt()
    assert renewed != first
    claims = jwt.decode(renewed, app_keys.public_pem, algorithms=["RS256"])
    assert claims["exp"] - claims["iat"] == 900  # still valid well after the reuse window
    assert auth.generate_application_jwt({"sub": "x"}) != renewed  # custom claims: one-off token


def test_the_environment_is_read_once_when_the_channel_is_made(
    messages_channel: VonageChannel, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No per-send environment lookups (``~/.netrc``, proxies, CA bundle): they cost every send file checks."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # after the channel was made: it keeps the bundle it read
    messages_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="hi"))
    assert len(fake_vonage.requests) == 1


def test_a_send_takes_no_per_call_preparation_or_bundle_checks(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Session.request``'s merging and protocol checks and the CA bundle's disk checks cost each provider
    call about a quarter of its processor time: after the first send, neither runs again."""
    sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="first"))  # the bundle is checked here
    looked_up: list[str] = []
    exists = os.path.exists

    def counted(path: str) -> bool:
        looked_up.append(str(path))
        return exists(path)

    monkeypatch.setattr(os.path, "exists", counted)

    def no_merging(*args: object, **kwargs: object) -> None:
        raise AssertionError("Session.prepare_request ran")

    monkeypatch.setattr(requests.Session, "prepare_request", no_merging)
    sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="second"))
    assert looked_up == []
    assert [r.form["text"] for r in fake_vonage.requests] == ["first", "second"]


@pytest.mark.parametrize("text", ["Maison Lumière: -20% & plus", "Привет! " * 20])
def test_the_request_on_the_wire_is_the_one_requests_prepares(
    sms_api_channel: VonageChannel, messages_channel: VonageChannel, fake_vonage: FakeVonage, text: str
) -> None:
    """The lighter preparation sends the body, type and length ``requests`` would (form and JSON APIs)."""
    sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text=text, client_ref="r-1"))
    messages_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text=text, client_ref="r-2"))
    form, body = fake_vonage.requests
    kind = "unicode" if text.startswith("П") else "text"
    params = SmsMessage(to=TO[1:], from_=SENDER[1:], text=text, type=kind, client_ref="r-1",
                        status_report_req=True).model_dump(by_alias=True)  # fmt: skip
    expected = requests.Request("POST", "https://x/sms/json", data=params).prepare()
    assert form.body.decode() == expected.body
    assert form.headers["content-type"] == expected.headers["Content-Type"]
    assert form.headers["content-length"] == expected.headers["Content-Length"]
    sent = requests.Request("POST", "https://x/v1/messages", json=body.json).prepare()
    assert body.body == sent.body
    assert body.headers["content-type"] == "application/json"
    assert body.headers["content-length"] == sent.headers["Content-Length"]


def _sms_sends(channel: VonageChannel, fake: FakeVonage, text: str, client_ref: str) -> tuple[object, object]:
    """The adapter's SMS API request and the one the SDK's own ``Sms.send`` writes for the same message."""
    channel.send(message=OutboundMessage(to=TO, sender=SENDER, text=text, client_ref=client_ref))
    kind = "unicode" if text.startswith("П") else "text"
    channel._client.sms.send(SmsMessage(to=TO[1:], from_=SENDER[1:], text=text, type=kind, client_ref=client_ref,
                                        status_report_req=True))  # fmt: skip
    ours, sdk = fake.requests
    return ours, sdk


@pytest.mark.parametrize("text", ["Maison Lumière: -20% & plus", "Привет! " * 20])
def test_an_sms_api_send_writes_the_request_the_sdk_writes(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, text: str
) -> None:
    """The adapter calls the SDK's HTTP client with the request model validated once per batch shape,
    not ``Sms.send`` per message: the request on the wire is the one ``Sms.send`` writes."""
    ours, sdk = _sms_sends(sms_api_channel, fake_vonage, text, "relais-7")
    assert ours.request_line == sdk.request_line  # type: ignore[attr-defined]
    assert ours.raw_headers == sdk.raw_headers  # type: ignore[attr-defined]
    assert ours.body == sdk.body  # type: ignore[attr-defined]


def test_an_sms_api_send_runs_no_per_call_validation(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydantic's ``validate_call`` on ``Sms.send`` and ``make_request`` and the debug-log f-strings cost a
    send worker about a quarter of a lane's processor time: with the ``vonage`` logger above DEBUG,
    neither runs; the answer still goes through the SDK's checks and response model."""
    from vonage_http_client.http_client import HttpClient
    from vonage_sms import Sms

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the SDK's validated call ran")

    monkeypatch.setattr(Sms, "send", refused)
    monkeypatch.setattr(HttpClient, "make_request", refused)
    result = sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="Hello", client_ref="relais-1"))
    assert result.segments == 1 and result.price_micros == 33_300
    fake_vonage.fail_next(200, {"message-count": "1", "messages": [{"status": "3", "error-text": "bad"}]})
    with pytest.raises(ChannelError) as error:  # Sms._check_for_error still reads the answer
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="Hello", client_ref="relais-2"))
    assert error.value.provider_code == "3" and not error.value.retryable
    with pytest.raises(ChannelError, match="at most 100 characters"):  # the model's limit, checked per message
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="Hello", client_ref="r" * 101))


def test_with_the_sdk_logging_at_debug_sms_send_itself_runs(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="vonage"):
        sms_api_channel.send(message=OutboundMessage(to=TO, sender=SENDER, text="Hello", client_ref="relais-3"))
    assert any("request to https://" in r.getMessage() for r in caplog.records)  # the SDK's own debug line
    (request,) = fake_vonage.requests
    assert request.form["client-ref"] == "relais-3" and request.form["text"] == "Hello"
