"""Redaction of personal data before a prompt, on ordinary and 100,000-character texts."""

from __future__ import annotations

from agent.pii import redact


def test_addresses_cards_and_phones_become_placeholders() -> None:
    text = "Mail jo.doe+shop@example.co.uk or call +33 6 12 34 56 78, card 4111 1111 1111 1111"
    assert redact(text) == "Mail [EMAIL] or call [PHONE], card [CARD]"
    assert redact("two: a@b.fr,c.d@e-f.com") == "two: [EMAIL],[EMAIL]"


def test_long_words_without_an_at_sign_are_kept_and_long_local_parts_still_redacted() -> None:
    """Runs that made the e-mail pattern backtrack quadratically (timing: bench/tokenize.py)."""
    for unit in ("x", "a.", "1-", "+1"):
        text = unit * (100_000 // len(unit))
        assert redact(text) == text
    assert redact("x" * 100_000 + "@example.com") == "x" * (100_000 - 64) + "[EMAIL]"
