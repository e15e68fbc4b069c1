"""Opaque bearer secrets (API keys, session tokens): random, shown once, stored as SHA-256.

A SHA-256 of a 256-bit random token is enough (no brute force possible), and unlike argon2 it
keeps authentication of every API request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "rls_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """Return ``(lookup_prefix, full_key)``; the prefix is stored in clear to find the row."""
    lookup = secrets.token_hex(6)
    return lookup, f"{API_KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else ``None``."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    lookup, sep, _ = key[len(API_KEY_PREFIX) :].partition("_")
    return lookup if sep and len(lookup) == 12 else None


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)


def same(sent: str, expected: str) -> bool:
    """``sent == expected`` in constant time, for any text a caller sends.

    ``hmac.compare_digest`` raises ``TypeError`` on a ``str`` with a non-ASCII character (a header
    is read as latin-1, so one byte above 0x7f is enough): an anonymous request answered 500
    instead of 401. Compared as UTF-8 bytes, such a value is simply wrong.
    """
    return hmac.compare_digest(sent.encode(), expected.encode())
