"""Phone numbers: E.164 normalisation and validation with ``phonenumbers``.

Every number stored or sent goes through :func:`normalize_e164`; callers pass the deployment's
default region (``Settings.default_region``) so national forms such as ``06 12 34 56 78`` work.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from babel import Locale
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from phonenumbers import timezone as pn_timezone

from channels.timezones import best_zone
from core.errors import ValidationFailed

PhoneProblem = Literal[
    "empty",
    "not_a_number",
    "invalid_country_code",
    "too_short",
    "too_long",
    "invalid_length",
    "invalid_for_region",
    "spreadsheet_notation",
]
LineType = Literal[
    "mobile",
    "fixed_line",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]

_LINE_TYPES: dict[int, LineType] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}

#: the line types that cannot receive SMS, each in words for "the number is …". The one list: the importer warns
#: with it, ``contacts.consent.consent_verdicts`` refuses texts to them. ``fixed_line_or_mobile`` is not in it (the
#: US and Canadian plans do not tell the two apart), nor is ``voip`` (many VoIP numbers take texts), nor
#: ``personal_number`` or ``unknown`` (the plan does not say).
NO_SMS: dict[str, str] = {
    "fixed_line": "a landline",
    "toll_free": "a toll-free number",
    "premium_rate": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "uan": "a company switchboard number",
    "voicemail": "a voicemail number",
    "pager": "a pager number",
}


def receives_sms(line_type: str | None) -> bool:
    """Whether a number of ``line_type`` can receive texts; ``None`` (not known yet) counts as yes."""
    return line_type not in NO_SMS


_PARSE_PROBLEMS: dict[int, tuple[PhoneProblem, str]] = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "invalid_country_code",
        "has no valid country code (use +<country code> or set the default region)",
    ),
    NumberParseException.NOT_A_NUMBER: ("not_a_number", "is not a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: ("too_short", "is too short after the international prefix"),
    NumberParseException.TOO_SHORT_NSN: ("too_short", "is too short"),
    NumberParseException.TOO_LONG: ("too_long", "is too long"),
}

_POSSIBILITY_PROBLEMS: dict[int, tuple[PhoneProblem, str]] = {
    ValidationResult.INVALID_COUNTRY_CODE: ("invalid_country_code", "has an unknown country code"),
    ValidationResult.TOO_SHORT: ("too_short", "is too short"),
    ValidationResult.TOO_LONG: ("too_long", "is too long"),
    ValidationResult.INVALID_LENGTH: ("invalid_length", "has an impossible length for its country"),
}


#: ``6,12345678E+08``: what a spreadsheet makes of a number column it took for a quantity. The
#: leading zero is gone and digits past the shown precision may be too, so the number is not
#: guessed back: the user is told how to export the column as text.
_SCIENTIFIC = re.compile(r"^[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+$")


class InvalidPhoneNumber(ValidationFailed):
    """A phone number failed validation; ``field`` and ``reason`` say which and why (API: 422)."""

    def __init__(self, *, field: str, reason: PhoneProblem, value: str, why: str) -> None:
        super().__init__(
            f"{field}: {value!r} {why}",
            errors=[{"field": field, "reason": reason, "message": why}],
        )
        self.field = field
        self.reason: PhoneProblem = reason


@dataclass(frozen=True)
class PhoneInfo:
    """A validated number. ``region`` is ISO 3166 (``FR``), ``timezones`` every IANA zone
    phonenumbers gives for its prefix (maybe empty), ``timezone`` the one to plan sends in."""

    e164: str
    country_code: int
    region: str | None
    line_type: LineType
    timezones: tuple[str, ...]

    @property
    def timezone(self) -> str | None:
        """The owner's zone (see ``channels.timezones``); ``None`` when a multi-zone country's
        prefix does not tell, so callers use the campaign's zone."""
        return best_zone(self.region, self.timezones)


def _parse(raw: str, *, region: str | None, field: str) -> phonenumbers.PhoneNumber:
    value = (raw or "").strip()
    if not value:
        raise InvalidPhoneNumber(field=field, reason="empty", value=raw or "", why="is empty")
    if _SCIENTIFIC.match(value):
        raise InvalidPhoneNumber(
            field=field, reason="spreadsheet_notation", value=raw,
            why="was turned into scientific notation by a spreadsheet, which loses digits: "
                "format the column as text and export the file again",
        )  # fmt: skip
    if value.startswith("00"):
        value = "+" + value[2:]
    national = region if region and not value.startswith("+") else None
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except NumberParseException as exc:
        reason, why = _PARSE_PROBLEMS.get(exc.error_type, ("not_a_number", "is not a phone number"))
        if reason in ("too_short", "too_long"):
            why += national_hint(value, national)
        raise InvalidPhoneNumber(field=field, reason=reason, value=raw, why=why) from None
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility in _POSSIBILITY_PROBLEMS:
        reason, why = _POSSIBILITY_PROBLEMS[possibility]
        raise InvalidPhoneNumber(field=field, reason=reason, value=raw, why=why + national_hint(value, national))
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise InvalidPhoneNumber(
            field=field,
            reason="invalid_for_region",
            value=raw,
            why=f"is not a valid number for region {where} (+{number.country_code})",
        )
    return _international_mobile(value, region, number) or number


_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
#: the countries a national number is tried in when the default region cannot read it, to say which it may be
_NEIGHBOURS = ("FR", "BE", "CH", "LU", "DE", "AT", "ES", "IT", "PT", "GB", "IE", "NL", "US")


def national_hint(value: str, region: str | None) -> str:
    """Why a number in national form (no ``+``) failed, for a person to fix it: read in the default ``region``,
    "0151 12345604" (a German mobile) or "07400 123405" (a British one) was only "too long", and nobody could
    tell that the file's other countries were read as French. Names the region, and the one country among its
    neighbours where the number is a mobile, if exactly one. "" for a number read with its country code."""
    if not region:
        return ""
    hint = f" for a number of {_country_name(region)} (numbers without +country code are read as the default region's)"
    found = []
    for other in _NEIGHBOURS:
        if other == region.upper():
            continue
        try:
            number = phonenumbers.parse(value, other)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES:
            found.append((other, number))
    if len(found) == 1:
        other, number = found[0]
        international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        hint += f"; as a mobile of {_country_name(other)} it is {international}: write it so, or add a country column"
    return hint


def _country_name(region: str) -> str:
    return Locale.parse("en").territories.get(region.upper(), region.upper())


def _international_mobile(value: str, region: str | None,
                          national: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """The mobile that ``value`` is when read with its ``+``, if its ``national`` reading is not a mobile.

    A spreadsheet keeps an international number as a number and drops the ``+``: "4915123456789" in a
    German row read nationally is a landline in Leer (area code 0491), while +49 151 23456789 is a
    mobile. Only all-digit values without a trunk zero, read back into the same region, qualify.
    """
    if not region or not value.isdigit() or value.startswith("0"):
        return None
    try:
        number = phonenumbers.parse("+" + value, None)
    except NumberParseException:
        return None
    if (
        phonenumbers.number_type(national) not in _MOBILE_TYPES
        and phonenumbers.is_valid_number(number)
        and phonenumbers.region_code_for_number(number) == region.upper()
        and phonenumbers.number_type(number) in _MOBILE_TYPES
    ):
        return number
    return None


def normalize_e164(raw: str, *, region: str | None = None, field: str = "phone") -> str:
    """Return ``raw`` in E.164 (``+33612345678``).

    Args:
        raw: the number as typed: E.164, ``00``-prefixed international, or national form.
        region: ISO 3166 region used for national forms (the deployment's default region).
        field: the input field name, reported in the error.

    Raises:
        InvalidPhoneNumber: empty, not a number, too short/long, or invalid for its region.
    """
    number = _parse(raw, region=region, field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def phone_info(raw: str, *, region: str | None = None, field: str = "phone") -> PhoneInfo:
    """Validate ``raw`` and describe it: country, line type where known, time zones.

    Memoised (the value is frozen; a failure is not kept): an inbound text's number is read for its
    contact's country and zone and again for the language prior of the same text.

    Raises:
        InvalidPhoneNumber: as :func:`normalize_e164`.
    """
    number = _parse(raw, region=region, field=field)
    zones = tuple(z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    return PhoneInfo(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country_code=int(number.country_code or 0),
        region=phonenumbers.region_code_for_number(number),
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), "unknown"),
        timezones=zones,
    )


def timezone_guess(e164: str) -> str | None:
    """The IANA zone of a number's owner (``PhoneInfo.timezone``), ``None`` when it cannot be told.

    Raises:
        InvalidPhoneNumber: ``e164`` does not validate.
    """
    return phone_info(e164).timezone


def to_e164_if_numeric(value: str) -> str:
    """Providers drop the ``+``; put it back on all-digit numbers, leave short codes and names alone.

    Numbers of 7+ digits are international; shorter ones are short codes and stay as they are.
    """
    if value.isdigit() and len(value) >= 7:
        return "+" + value
    return value
