"""TOTP second factor (RFC 6238 via pyotp) with one-time recovery codes."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp

from core.security.passwords import hash_secret, verify_password

ISSUER = "Relais"
DIGITS = 6


@dataclass(frozen=True)
class TotpEnrolment:
    """What a user needs to enrol an authenticator: shown once, never stored in clear."""

    secret: str
    provisioning_uri: str
    recovery_codes: tuple[str, ...]


def new_enrolment(email: str, *, issuer: str = ISSUER, recovery_count: int = 8) -> TotpEnrolment:
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)
    codes = tuple(f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(recovery_count))
    return TotpEnrolment(secret=secret, provisioning_uri=uri, recovery_codes=codes)


def hash_recovery_codes(codes: tuple[str, ...]) -> list[str]:
    return [hash_secret(code) for code in codes]


def matching_step(secret: str, code: str, *, after: int | None = None, at: float | None = None) -> int | None:
    """The time step of ``code`` if it is the current code or one step either side (clock drift)
    and newer than ``after`` (the last step accepted for this user), else ``None``.

    Refusing a step at or before ``after`` makes each code single-use: a code read over a
    shoulder or replayed from a log is worthless once its owner has used it (RFC 6238 §5.2).
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # '١٢٣٤٥٦' is digits, not a code
        return None
    otp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // otp.interval)
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None


def consume_recovery_code(hashes: list[str], code: str) -> list[str] | None:
    """Return the remaining hashes if ``code`` matched one (which is then spent), else ``None``."""
    code = code.strip().lower()
    for index, stored in enumerate(hashes):
        if verify_password(stored, code):
            return hashes[:index] + hashes[index + 1 :]
    return None
