"""E.164 normalisation, validation errors naming field and reason, number details."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from channels.phone import InvalidPhoneNumber, normalize_e164, phone_info, timezone_guess, to_e164_if_numeric
from channels.timezones import MAIN_ZONE, OTHER_CLOCKS
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
        ("6,12345681E+08", "FR", "spreadsheet_notation"),
        ("4.47911123457e11", None, "spreadsheet_notation"),
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


@pytest.mark.parametrize(
    ("raw", "region", "expected", "line_type"),
    [
        # a spreadsheet dropped the "+": read nationally, the German number is a landline in Leer (0491)
        ("4915123456789", "DE", "+4915123456789", "mobile"),
        ("351912345678", "PT", "+351912345678", "mobile"),
        ("33698765432", "FR", "+33698765432", "mobile"),
        # a national reading that is a mobile, or a landline whose "+" reading is no mobile, stays as read
        ("612345678", "FR", "+33612345678", "mobile"),
        ("442079460000", "GB", "+442079460000", "fixed_line"),
    ],
)
def test_a_number_without_its_plus_is_read_as_the_mobile_it_is(
    raw: str, region: str, expected: str, line_type: str
) -> None:
    info = phone_info(raw, region=region)
    assert (info.e164, info.line_type) == (expected, line_type)


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


# One row per number: (number, its owner's zone). Single-zone-in-practice countries get their main
# zone whatever phonenumbers lists first; multi-zone countries get the prefix's zone when
# phonenumbers gives exactly one, else None (the campaign's zone is used).
ZONES_BY_NUMBER = [
    ("+34612345678", "Europe/Madrid"),  # ES mobile: phonenumbers lists Atlantic/Canary first
    ("+34911234567", "Europe/Madrid"),  # ES, Madrid landline
    ("+34928123456", "Atlantic/Canary"),  # ES, Las Palmas landline: the prefix pins the islands
    ("+351912345678", "Europe/Lisbon"),  # PT mobile: phonenumbers lists Atlantic/Azores first
    ("+351296123456", "Atlantic/Azores"),  # PT, Ponta Delgada landline
    ("+447400123456", "Europe/London"),  # GB mobile: phonenumbers lists Europe/Guernsey first
    ("+441212345678", "Europe/London"),  # GB, Birmingham landline
    ("+447911123456", "Europe/Guernsey"),  # GG mobile (+44 7911): phonenumbers lists four zones; was None
    ("+447797123456", "Europe/Jersey"),  # JE mobile
    ("+447624123456", "Europe/Isle_of_Man"),  # IM mobile
    ("+353850123456", "Europe/Dublin"),  # IE: phonenumbers gives only UK zones
    ("+212650123456", "Africa/Casablanca"),  # MA: phonenumbers gives Atlantic/Canary
    ("+33612345678", "Europe/Paris"),
    ("+4915123456789", "Europe/Berlin"),
    ("+393123456789", "Europe/Rome"),  # phonenumbers: Rome or Vatican
    ("+31612345678", "Europe/Amsterdam"),
    ("+32450001234", "Europe/Brussels"),
    ("+41781234567", "Europe/Zurich"),
    ("+43664123456", "Europe/Vienna"),
    ("+4740612345", "Europe/Oslo"),  # phonenumbers: Longyearbyen or Oslo
    ("+358412345678", "Europe/Helsinki"),  # phonenumbers: Helsinki or Mariehamn
    ("+46701234567", "Europe/Stockholm"),
    ("+48512345678", "Europe/Warsaw"),
    ("+64211234567", "Pacific/Auckland"),  # phonenumbers: Auckland or Chatham
    ("+593991234567", "America/Guayaquil"),  # phonenumbers: Guayaquil or Galapagos
    ("+14155552671", "America/Los_Angeles"),  # US, San Francisco
    ("+12125550123", "America/New_York"),  # US, New York
    ("+16045551234", "America/Vancouver"),  # CA, Vancouver
    ("+14165551234", "America/Toronto"),  # CA, Toronto
    ("+5511961234567", "America/Sao_Paulo"),  # BR, São Paulo mobile
    ("+559232345678", "America/Manaus"),  # BR, Manaus landline
    ("+61212345678", "Australia/Sydney"),  # AU, Sydney landline
    ("+61412345678", None),  # AU mobile: any of eight zones
    ("+61892345678", None),  # AU, 08 landline: Adelaide or Perth
    ("+525512345678", "America/Mexico_City"),  # MX, Mexico City
    ("+526641234567", "America/Tijuana"),  # MX, Tijuana
    ("+74951234567", "Europe/Moscow"),  # RU, Moscow landline
    ("+74232123456", "Asia/Vladivostok"),  # RU, Vladivostok landline
    ("+79123456789", None),  # RU mobile: sixteen zones
    ("+77123456789", "Asia/Aqtobe"),  # KZ, Aktobe landline
    ("+77710009998", None),  # KZ mobile
    ("+62812345678", "Asia/Jakarta"),  # ID
    ("+5491123456789", "America/Buenos_Aires"),  # AR
    ("+56221234567", "America/Santiago"),  # CL
    ("+81312345678", "Asia/Tokyo"),  # JP
    ("+918123456789", "Asia/Calcutta"),  # IN
    ("+27711234567", "Africa/Johannesburg"),  # ZA
    ("+8613123456789", "Asia/Shanghai"),  # CN
]


@pytest.mark.parametrize(("number", "zone"), ZONES_BY_NUMBER)
def test_timezone_guess(number: str, zone: str | None) -> None:
    assert timezone_guess(number) == zone
    assert phone_info(number).timezone == zone


def test_zone_table_covers_many_countries() -> None:
    assert len({phone_info(number).region for number, _ in ZONES_BY_NUMBER}) >= 25


def test_main_zones_are_real_zones() -> None:
    for zone in [*MAIN_ZONE.values(), *(z for zones in OTHER_CLOCKS.values() for z in zones)]:
        ZoneInfo(zone)


def test_timezone_guess_refuses_a_non_number() -> None:
    with pytest.raises(InvalidPhoneNumber):
        timezone_guess("nope")


def test_to_e164_if_numeric() -> None:
    assert to_e164_if_numeric("33612345678") == "+33612345678"
    assert to_e164_if_numeric("36123") == "36123"
    assert to_e164_if_numeric("Relais") == "Relais"
    assert to_e164_if_numeric("+33612345678") == "+33612345678"


@pytest.mark.parametrize(
    ("raw", "country"),
    [("0151 12345604", "as a mobile of Germany it is +49"),
     ("07400 123405", "as a mobile of United Kingdom it is +44")],
)
def test_a_national_number_of_another_country_says_which_country_it_may_be(raw: str, country: str) -> None:
    """Before, a German or British mobile in a French-default file was only "too long": nobody could tell the
    file's other countries were read as French."""
    with pytest.raises(InvalidPhoneNumber) as failed:
        normalize_e164(raw, region="FR")
    why = failed.value.errors[0]["message"]
    assert why.startswith("is too long for a number of France"), why
    assert country in why and "add a country column" in why


def test_a_number_with_its_country_code_or_no_likely_country_gets_no_guess() -> None:
    with pytest.raises(InvalidPhoneNumber) as failed:
        normalize_e164("061234", region="FR")
    assert failed.value.errors[0]["message"] == (
        "is too short for a number of France (numbers without +country code are read as the default region's)")
    with pytest.raises(InvalidPhoneNumber) as failed:
        normalize_e164("+33 6 12", region="FR")
    assert failed.value.errors[0]["message"] == "is too short"
