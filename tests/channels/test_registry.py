"""Choosing the adapter from settings, and the framework-neutral webhook value."""

from __future__ import annotations

import pytest

from channels.base import MalformedWebhook, WebhookRequest
from channels.registry import get_channel
from channels.simulator import InMemoryOutbox, SimulatorChannel
from channels.smpp import SmppChannel
from channels.vonage import VonageChannel
from core.settings import SettingsError, load_settings


def test_simulator_needs_an_outbox() -> None:
    settings = load_settings(channel="simulator")
    assert isinstance(get_channel(settings, outbox=InMemoryOutbox()), SimulatorChannel)
    with pytest.raises(SettingsError, match="outbox"):
        get_channel(settings)


def test_vonage_from_settings() -> None:
    settings = load_settings(channel="vonage", vonage_api_key="k", vonage_api_secret="s")
    channel = get_channel(settings)
    assert isinstance(channel, VonageChannel) and channel.config.api == "sms"
    with pytest.raises(SettingsError, match="channel vonage: vonage needs"):
        get_channel(load_settings(channel="vonage"))


def test_smpp_from_settings_does_not_connect_yet() -> None:
    settings = load_settings(channel="smpp", smpp_host="127.0.0.1", smpp_port=1, smpp_system_id="x")
    channel = get_channel(settings)
    assert isinstance(channel, SmppChannel) and not channel.is_bound
    assert channel.config.port == 1
    with pytest.raises(SettingsError, match="RELAIS_SMPP_HOST"):
        get_channel(load_settings(channel="smpp"))


def test_webhook_request_build_and_params() -> None:
    request = WebhookRequest.build(
        method="post",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "X-Thing": "1"},
        query={"a": "1", "b": "query"},
        body=b"b=form&c=%E2%82%AC",
    )
    assert request.method == "POST"
    assert request.headers == {"content-type": "application/x-www-form-urlencoded; charset=utf-8", "x-thing": "1"}
    assert request.form == {"b": "form", "c": "€"}
    assert request.params() == {"a": "1", "b": "form", "c": "€"}
    as_json = WebhookRequest.build(
        method="POST", headers={"content-type": "application/json"}, body=b'{"x": 1, "nested": {"y": 2}}'
    )
    assert as_json.json == {"x": 1, "nested": {"y": 2}}
    assert as_json.params() == {"x": "1"}
    with pytest.raises(MalformedWebhook):
        WebhookRequest.build(method="POST", headers={"content-type": "application/x-www-form-urlencoded"}, body=b"\xff")
    assert WebhookRequest.build(method="GET").params() == {}
