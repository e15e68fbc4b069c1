"""TOTP second factor (RFC 6238 via pyotp) with one-time recovery codes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pyotp

from core.security.passwords import hash_secret, verify_password

ISSUER = "Relais"


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


def verify_code(secret: str, code: str) -> bool:
    """Accept the current code and one step either side (clock drift)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def consume_recovery_code(hashes: list[str], code: str) -> list[str] | None:
    """Return the remaining hashes if ``code`` matched one (which is then spent), else ``None``."""
    code = code.strip().lower()
    for index, stored in enumerate(hashes):
        if verify_password(stored, code):
            return hashes[:index] + hashes[index + 1 :]
    return None
