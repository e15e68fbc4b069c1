"""TOTP codes: one step of drift either side, each step accepted once."""

from __future__ import annotations

import pyotp

from core.security import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
NOW = 1_800_000_015.0  # inside step 60,000,000


def _code(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_current_and_adjacent_steps_match_others_do_not() -> None:
    step = int(NOW // 30)
    assert totp.matching_step(SECRET, _code(step), at=NOW) == step
    assert totp.matching_step(SECRET, _code(step - 1), at=NOW) == step - 1
    assert totp.matching_step(SECRET, f" {_code(step + 1)[:3]} {_code(step + 1)[3:]} ", at=NOW) == step + 1
    assert totp.matching_step(SECRET, _code(step - 2), at=NOW) is None
    assert totp.matching_step(SECRET, "12345", at=NOW) is None
    assert totp.matching_step(SECRET, "abcdef", at=NOW) is None


def test_a_step_at_or_before_the_last_accepted_one_is_refused() -> None:
    step = int(NOW // 30)
    assert totp.matching_step(SECRET, _code(step), after=step, at=NOW) is None
    assert totp.matching_step(SECRET, _code(step - 1), after=step, at=NOW) is None
    assert totp.matching_step(SECRET, _code(step + 1), after=step, at=NOW) == step + 1
    assert totp.matching_step(SECRET, _code(step), after=step - 1, at=NOW) == step


def test_recovery_codes_are_spent_once() -> None:
    enrolment = totp.new_enrolment("a@example.com", recovery_count=3)
    hashes = totp.hash_recovery_codes(enrolment.recovery_codes)
    remaining = totp.consume_recovery_code(hashes, enrolment.recovery_codes[1].upper())
    assert remaining is not None and len(remaining) == 2
    assert totp.consume_recovery_code(remaining, enrolment.recovery_codes[1]) is None
