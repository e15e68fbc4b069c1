"""argon2id password hashing (argon2-cffi defaults are argon2id with RFC 9106 parameters)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Recovery codes are random (48 bits) and there are eight to check per attempt: lighter parameters
# keep a log-in fast while still costing an attacker a memory-hard hash per guess.
_light_hasher = PasswordHasher(time_cost=1, memory_cost=16 * 1024, parallelism=1)

# ASVS 4.0 2.1.1 (docs/security.md targets level 2): at least 12 characters; 10 were accepted before
MIN_LENGTH = 12
# Checked instead of a real hash when the account does not exist or cannot log in, so such an
# attempt costs the same argon2 work as a wrong password and timing reveals no account.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    """Hash a new password; raises ``ValueError`` when it is too short to be worth hashing."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password must be at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed hash never matches."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password_or_dummy(stored_hash: str | None, password: str) -> bool:
    """Like :func:`verify_password`, but with no hash (unknown account) do the same work and fail."""
    if stored_hash is None:
        verify_password(_DUMMY_HASH, password)
        return False
    return verify_password(stored_hash, password)


def hash_secret(secret: str) -> str:
    """Hash a random one-time secret (recovery code) with no length rule."""
    return _light_hasher.hash(secret)
