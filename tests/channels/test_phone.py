"""E.164 normalisation, validation errors naming field and reason, number details."""

from __future__ import annotations

import pytest

from channels.phone import InvalidPhoneNumber, normalize_e164, phone_info, timezone_guess, to_e164_if_numeric
from core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("0033612345678", None, "+33612345678"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+44 7400 123456", "FR", "+447400123456"),
        ("07400 123456", "gb", "+447400123456"),
    ],
)
def test_normalizes_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_e164(raw, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "FR", "empty"),
        ("   ", "FR", "empty"),
        ("hello", "FR", "not_a_number"),
        ("0612345678", None, "invalid_country_code"),
        ("+33 6", None, "too_short"),
        ("+33 6 12 34 56 78 90 12 34", None, "too_long"),
        ("+1 555 555 5555", None, "invalid_for_region"),
        ("+33 4 00 00 00 00", None, "invalid_for_region"),
    ],
)
def test_invalid_numbers_name_field_and_reason(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_e164(raw, region=region, field="to")
    error = caught.value
    assert isinstance(error, ValidationFailed) and error.status_code == 422
    assert error.field == "to"
    assert error.reason == reason
    assert error.errors[0]["field"] == "to" and error.errors[0]["reason"] == reason
    assert error.detail.startswith("to: ")


def test_invalid_for_region_message_names_the_region() -> None:
    with pytest.raises(InvalidPhoneNumber, match="region US"):
        normalize_e164("+1 555 555 5555")


def test_phone_info_line_type_country_timezone() -> None:
    mobile = phone_info("06 12 34 56 78", region="FR")
    assert (mobile.e164, mobile.country_code, mobile.region, mobile.line_type) == (
        "+33612345678",
        33,
        "FR",
        "mobile",
    )
    assert mobile.timezone == "Europe/Paris"
    fixed = phone_info("+33 1 42 68 53 00")
    assert fixed.line_type == "fixed_line"
    toll_free = phone_info("+1 800 253 0000")
    assert toll_free.line_type == "toll_free"
    assert phone_info("+14155552671").line_type == "fixed_line_or_mobile"


def test_timezone_guess() -> None:
    assert timezone_guess("+14155552671") == "America/Los_Angeles"
    assert timezone_guess("+12125550123") == "America/New_York"
    assert timezone_guess("+81312345678") == "Asia/Tokyo"
    with pytest.raises(InvalidPhoneNumber):
        timezone_guess("nope")


def test_to_e164_if_numeric() -> None:
    assert to_e164_if_numeric("33612345678") == "+33612345678"
    assert to_e164_if_numeric("36123") == "36123"
    assert to_e164_if_numeric("Relais") == "Relais"
    assert to_e164_if_numeric("+33612345678") == "+33612345678"
