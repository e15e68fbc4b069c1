"""A wrong setting stops start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings

RELAIS = str(Path(sys.executable).parent / "relais")


def test_unparseable_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATABASE_URL", "not a url at all")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "RELAIS_DATABASE_URL" in str(err.value)
    assert "\n" not in str(err.value)


def test_production_requires_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.setenv("RELAIS_ENCRYPTION_KEYS", "")
    with pytest.raises(SettingsError, match="RELAIS_ENCRYPTION_KEYS is required"):
        load_settings()


def test_bad_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_PORT", "99999")
    with pytest.raises(SettingsError, match="RELAIS_PORT"):
        load_settings()


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "RELAIS_DATABASE_URL": "::nonsense::", "RELAIS_DATA_DIR": str(tmp_path)}
    done = subprocess.run([RELAIS, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("relais: invalid configuration: RELAIS_DATABASE_URL")
    assert "Traceback" not in done.stderr


def test_bad_encryption_key_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "RELAIS_ENCRYPTION_KEYS": "k1:short", "RELAIS_DATA_DIR": str(tmp_path)}
    done = subprocess.run([RELAIS, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "RELAIS_ENCRYPTION_KEYS" in done.stderr and "Traceback" not in done.stderr


def test_production_refuses_the_simulator_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.setenv("RELAIS_CHANNEL", "simulator")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "RELAIS_ALLOW_SIMULATOR_IN_PRODUCTION" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("RELAIS_ALLOW_SIMULATOR_IN_PRODUCTION", "true")
    assert load_settings().channel == "simulator"
    monkeypatch.delenv("RELAIS_ALLOW_SIMULATOR_IN_PRODUCTION")
    monkeypatch.setenv("RELAIS_CHANNEL", "vonage")
    assert load_settings().channel == "vonage"


@pytest.mark.parametrize("value", ["GBP:EUR", "GBP:EUR=0", "GBP:EUR=-1", "GBP:EUR=abc", "GB:EUR=1.1", "EUR:EUR=1",
                                   "GBP:EUR=nan", "GBP:EUR=1.17,EUR:GBP=0.85"])
def test_a_bad_exchange_rate_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RELAIS_EXCHANGE_RATES", value)
    with pytest.raises(SettingsError, match="RELAIS_EXCHANGE_RATES") as err:
        load_settings()
    assert "\n" not in str(err.value)


def test_exchange_rates_hold_their_inverse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_EXCHANGE_RATES", " gbp:EUR=1.25 , USD:EUR=0.5")
    monkeypatch.setenv("RELAIS_SMS_PRICE_CURRENCY", "eur")
    settings = load_settings()
    assert settings.sms_price_currency == "EUR"
    assert settings.exchange_rate_table == {("GBP", "EUR"): 1.25, ("EUR", "GBP"): 0.8, ("USD", "EUR"): 0.5,
                                            ("EUR", "USD"): 2.0}
    monkeypatch.setenv("RELAIS_SMS_PRICE_CURRENCY", "euro")
    with pytest.raises(SettingsError, match="RELAIS_SMS_PRICE_CURRENCY"):
        load_settings()
