"""The provider transport under the Vonage SDK (channels/provider_http.py), against the fake HTTPS server."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from channels.base import OutboundMessage
from channels.provider_http import KeepAliveAdapter
from channels.vonage import VonageChannel
from tests.channels.fakes.vonage_server import FakeVonage

TO = "+33612345678"
SENDER = "+33700000000"


@pytest.fixture
def no_urllib3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Sends must not go through urllib3's pool and http.client (the layers the transport replaces)."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("urllib3's connection pool was used")

    monkeypatch.setattr(urllib3.HTTPConnectionPool, "urlopen", refused)
    yield


def _send(channel: VonageChannel, text: str, ref: str) -> str:
    return channel.send(message=OutboundMessage(to=TO, sender=SENDER, text=text, client_ref=ref)).provider_message_id


def test_the_wire_request_is_the_one_requests_adapter_writes(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage
) -> None:
    """Same request line, headers (order and spelling) and body as the SDK through ``requests``' own adapter."""
    session = sms_api_channel._client._http_client._session
    assert isinstance(session.get_adapter("https://x/"), KeepAliveAdapter)
    _send(sms_api_channel, "Maison Lumière: -20% & plus", "r-1")
    session.mount("https://", HTTPAdapter(max_retries=0))  # what the SDK mounts, urllib3 underneath
    _send(sms_api_channel, "Maison Lumière: -20% & plus", "r-1")
    ours, theirs = fake_vonage.requests
    assert ours.request_line == theirs.request_line == "POST /sms/json HTTP/1.1"
    assert ours.raw_headers == theirs.raw_headers
    assert ours.body == theirs.body


def test_sends_share_one_kept_alive_connection_without_urllib3(
    sms_api_channel: VonageChannel, messages_channel: VonageChannel, fake_vonage: FakeVonage, no_urllib3: None
) -> None:
    ids = [_send(sms_api_channel, f"n{i}", f"s{i}") for i in range(3)]
    ids += [_send(messages_channel, f"m{i}", f"m{i}") for i in range(2)]  # JSON, JWT-signed: same transport
    assert len(set(ids)) == 5
    sms, messages = fake_vonage.requests[:3], fake_vonage.requests[3:]
    assert len({r.client_port for r in sms}) == 1
    assert len({r.client_port for r in messages}) == 1
    assert [r.form["client-ref"] for r in sms] == ["s0", "s1", "s2"]
    assert [r.json["client_ref"] for r in messages] == ["m0", "m1"]


def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, no_urllib3: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's idle timeout closes the kept connection; the next send notices it and opens a new one
    (one request on the wire per send: nothing sent into the closed connection, no retry needed)."""
    monkeypatch.setattr(fake_vonage, "idle_timeout", 0.2)
    _send(sms_api_channel, "first", "c1")
    time.sleep(0.6)
    _send(sms_api_channel, "second", "c2")
    first, second = fake_vonage.requests
    assert first.client_port != second.client_port
    assert [r.form["client-ref"] for r in fake_vonage.requests] == ["c1", "c2"]


def test_errors_and_closing(sms_api_channel: VonageChannel, fake_vonage: FakeVonage, no_urllib3: None) -> None:
    """A 4xx/5xx reaches the SDK as a response (its error mapping applies), and the connection stays usable;
    closing the channel closes the kept connections."""
    fake_vonage.fail_next(500, {"title": "boom"})
    with pytest.raises(Exception, match="500"):
        _send(sms_api_channel, "x", "e1")
    _send(sms_api_channel, "y", "e2")
    assert len({r.client_port for r in fake_vonage.requests}) == 1
    adapter = sms_api_channel._client._http_client._session.get_adapter("https://x/")
    assert isinstance(adapter, KeepAliveAdapter) and adapter._idle
    sms_api_channel.close()
    assert not any(adapter._idle.values())


def test_what_the_fast_path_does_not_take_goes_to_requests(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage
) -> None:
    """A streamed download (the SDK's file downloads) goes through the fallback adapter, urllib3 underneath."""
    session = sms_api_channel._client._http_client._session
    response = session.get(f"https://{fake_vonage.host}/v1/files/x", stream=True, timeout=5)
    assert isinstance(response.raw, urllib3.HTTPResponse)
    assert response.status_code == 501  # the fake serves POST only


def test_an_answer_makes_no_cookie_jar_until_one_is_read(
    sms_api_channel: VonageChannel, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``requests.Response()`` built an empty cookie jar per answer (~5 % of a sending lane); the transport's
    answer makes one only when read. Its headers read as ``requests``' do."""
    made: list[object] = []
    real_init = RequestsCookieJar.__init__

    def counted(self: RequestsCookieJar, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RequestsCookieJar, "__init__", counted)
    _send(sms_api_channel, "Bonjour", "k1")
    assert made == []
    response = sms_api_channel._client._http_client._last_response
    assert isinstance(response, requests.Response) and response.status_code == 200
    assert response.headers["content-type"] == response.headers["Content-Type"] == "application/json"
    assert dict(response.cookies) == {} and len(made) == 1
    assert response.cookies is response.cookies
    assert pickle.loads(pickle.dumps(response)).json() == response.json()
