"""Whether a value is someone's e-mail address or phone number: personal contact data that must stay encrypted.

Segmentable attribute values are copied in plaintext so segments filter them in SQL (``contacts.attributes``);
every other value of a contact is encrypted. A value read here as an address or a number is refused there. A phone
number is text made only of digits and phone punctuation that ``phonenumbers`` reads as a valid number (in the
deployment's region when it has no ``+``), so store codes and customer numbers that happen to be digits pass
unless they are a dialable number of that region.
"""

from __future__ import annotations

import re

import phonenumbers

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")
_PHONE_CHARACTERS = re.compile(r"\+?[\d\s().\-/]{8,}")


def personal_kind(value: object, *, region: str) -> str | None:
    """``"an e-mail address"``, ``"a phone number"`` or None (anything else, including non-text values)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EMAIL.fullmatch(text):
        return "an e-mail address"
    if not _PHONE_CHARACTERS.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    return "a phone number" if phonenumbers.is_valid_number(number) else None
