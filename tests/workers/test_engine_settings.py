"""The worker's delivery engine takes its limits from the settings an operator sets."""

from __future__ import annotations

import pytest

from channels.base import ChannelError
from core.settings import Settings, SettingsError, get_settings
from workers.delivery import runtime as delivery_runtime


def test_the_longest_provider_pause_is_the_operators_setting(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``max_throttle_pause`` was an engine argument only: a provider asking for an hour paused the account 300 s,
    whatever the operator wanted."""
    asked_an_hour = ChannelError("Throttled", retryable=True, http_status=429, throttled_for=3600)
    assert delivery_runtime.get_engine().throttle_pause(asked_an_hour) == 300  # the default
    monkeypatch.setenv("RELAIS_MAX_THROTTLE_PAUSE_SECONDS", "45")
    get_settings.cache_clear()
    assert delivery_runtime.get_engine().throttle_pause(asked_an_hour) == 45
    monkeypatch.setenv("RELAIS_MAX_THROTTLE_PAUSE_SECONDS", "0")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="RELAIS_MAX_THROTTLE_PAUSE_SECONDS: Input should be greater than or equal"):
        get_settings()
