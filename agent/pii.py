"""Redaction of personal data from text before it goes into an LLM prompt.

The LLM never needs a customer's e-mail address, phone or card number to answer from the
knowledge base, so they are replaced by typed placeholders (``[EMAIL]``, ``[PHONE]``...). Order
numbers and postcodes are kept: they carry no identity on their own and the answer may need them.
"""

from __future__ import annotations

import re

# the local part is at most 64 characters (RFC 5321); unbounded, a long run without "@" backtracked
# quadratically (seconds for a 20,000-character word)
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# 13-19 digits, optionally grouped by spaces or dashes
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# international or national phone numbers: +33 6 12 34 56 78, 06.12.34.56.78, (415) 555-0100
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d .\-()]{7,}\d\b")
_URL_TOKEN = re.compile(r"([?&](?:token|key|code|password|pwd)=)[^&\s]+", re.IGNORECASE)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[PHONE]" if 8 <= len(digits) <= 15 else match.group(0)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IBANs, card numbers (Luhn-valid), phone numbers and URL
    secrets replaced by placeholders."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IBAN.sub("[IBAN]", text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return _URL_TOKEN.sub(r"\1[SECRET]", text)
