"""Encryption at rest: AES-256-GCM with a key id on every value, and a keyed HMAC blind index.

Stored form: ``<kid>:<base64(nonce || ciphertext+tag)>``. The key id lets ``relais keys rotate``
re-encrypt in batches while old and new keys both decrypt, so rotation needs no downtime.
Equality lookups (phone numbers) go through :func:`blind_index`, never through the ciphertext.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyConfigError(ValueError):
    """A malformed key specification or an unknown key id."""


@dataclass(frozen=True)
class KeyRing:
    """Ordered encryption keys (first one encrypts) and the blind-index key."""

    keys: tuple[tuple[str, bytes], ...]
    index_key: bytes

    @property
    def active_kid(self) -> str:
        return self.keys[0][0]

    def key(self, kid: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == kid:
                return key
        raise KeyConfigError(f"no encryption key with id {kid!r} in RELAIS_ENCRYPTION_KEYS")

    @classmethod
    def parse(cls, spec: str, index_key: str) -> KeyRing:
        """Parse ``kid:base64key,...``; raises :class:`KeyConfigError` naming the bad part."""
        keys: list[tuple[str, bytes]] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, encoded = part.partition(":")
            if not sep or not kid:
                raise KeyConfigError("RELAIS_ENCRYPTION_KEYS entries must look like kid:base64key")
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise KeyConfigError(f"RELAIS_ENCRYPTION_KEYS key {kid!r} is not base64") from None
            if len(key) != 32:
                raise KeyConfigError(f"RELAIS_ENCRYPTION_KEYS key {kid!r} must be 32 bytes (AES-256)")
            keys.append((kid, key))
        if not keys:
            raise KeyConfigError("RELAIS_ENCRYPTION_KEYS holds no key")
        try:
            index = base64.b64decode(index_key, validate=True)
        except ValueError:
            raise KeyConfigError("RELAIS_BLIND_INDEX_KEY is not base64") from None
        if len(index) < 16:
            raise KeyConfigError("RELAIS_BLIND_INDEX_KEY must be at least 16 bytes")
        return cls(keys=tuple(keys), index_key=index)


_lock = threading.Lock()
_keyring: KeyRing | None = None


def configure(keyring: KeyRing) -> None:
    """Install the process-wide key ring (done once at start-up by ``core.runtime``)."""
    global _keyring
    with _lock:
        _keyring = keyring


def keyring() -> KeyRing:
    if _keyring is None:
        raise RuntimeError("encryption keys are not configured; call core.runtime.bootstrap() first")
    return _keyring


@functools.lru_cache(maxsize=16)
def _cipher(key: bytes) -> AESGCM:
    # building AESGCM costs more than sealing a short value: bulk inserts reuse it
    return AESGCM(key)


def encrypt(plaintext: str) -> str:
    ring = keyring()
    nonce = os.urandom(12)
    sealed = _cipher(ring.key(ring.active_kid)).encrypt(nonce, plaintext.encode(), None)
    return f"{ring.active_kid}:{base64.b64encode(nonce + sealed).decode()}"


def encrypt_bytes(data: bytes) -> bytes:
    """:func:`encrypt` for binary blobs (an uploaded file's chunks): ``<kid>:`` + nonce + sealed bytes,
    stored as is (base64 would add a third). Meant for short-lived data: key rotation skips it."""
    ring = keyring()
    nonce = os.urandom(12)
    sealed = _cipher(ring.key(ring.active_kid)).encrypt(nonce, data, None)
    return ring.active_kid.encode() + b":" + nonce + sealed


def decrypt_bytes(stored: bytes) -> bytes:
    kid, _, raw = stored.partition(b":")
    return _cipher(keyring().key(kid.decode())).decrypt(raw[:12], raw[12:], None)


def key_id_of(stored: str) -> str:
    return stored.partition(":")[0]


def decrypt(stored: str) -> str:
    kid, _, payload = stored.partition(":")
    raw = base64.b64decode(payload)
    return _cipher(keyring().key(kid)).decrypt(raw[:12], raw[12:], None).decode()


def blind_index(value: str) -> str:
    """Deterministic keyed digest for equality lookups of encrypted values."""
    return hmac.new(keyring().index_key, value.encode(), hashlib.sha256).hexdigest()
