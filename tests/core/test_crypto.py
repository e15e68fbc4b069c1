"""Encryption at rest: AES-GCM with key ids, blind index, rotation without downtime."""

from __future__ import annotations

import base64
import sqlite3

import pytest
from sqlalchemy import Text, select, type_coerce

from contacts.models import Contact
from contacts.service import find_by_phone, get_or_create_by_phone
from core import accounts, crypto, db, keys
from core.models import User
from core.settings import Settings


def _key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


def test_round_trip_carries_key_id(runtime: Settings) -> None:
    stored = crypto.encrypt("+33612345678")
    assert stored.startswith("t1:")
    assert "+33612345678" not in stored
    assert crypto.decrypt(stored) == "+33612345678"
    assert crypto.encrypt("same") != crypto.encrypt("same")  # random nonce


def test_tampering_is_detected(runtime: Settings) -> None:
    stored = crypto.encrypt("hello")
    kid, _, payload = stored.partition(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        crypto.decrypt(f"{kid}:{base64.b64encode(bytes(raw)).decode()}")


def test_keyring_rejects_bad_specs() -> None:
    with pytest.raises(crypto.KeyConfigError, match="32 bytes"):
        crypto.KeyRing.parse("k1:" + base64.b64encode(b"x" * 10).decode(), _key(b"i"))
    with pytest.raises(crypto.KeyConfigError, match="kid:base64key"):
        crypto.KeyRing.parse("nokid", _key(b"i"))


def test_phone_lookup_uses_blind_index(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        get_or_create_by_phone(session, phone_e164="+33612345678")
    with db.session_scope() as session:
        found = find_by_phone(session, "+33612345678")
        assert found is not None and found.phone == "+33612345678"
        assert find_by_phone(session, "+33612345679") is None


def test_raw_sqlite_file_holds_no_plaintext_phone(runtime: Settings) -> None:
    with db.session_scope() as session:
        get_or_create_by_phone(session, phone_e164="+33699887766")
    db.engine().dispose()
    raw = sqlite3.connect(runtime.resolved_database_url.removeprefix("sqlite:///"))
    raw.execute("PRAGMA wal_checkpoint(FULL)")
    raw.close()
    data = (runtime.data_dir / "relais.db").read_bytes()
    assert b"+33699887766" not in data and b"33699887766" not in data


def test_rotation_reencrypts_with_new_key(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        for n in range(7):
            get_or_create_by_phone(session, phone_e164=f"+3361234560{n}")
    old = crypto.keyring()
    crypto.configure(crypto.KeyRing(keys=(("t2", base64.b64decode(_key(b"n"))), *old.keys), index_key=old.index_key))
    try:
        assert keys.rotate(batch=3) == 14  # phone + attributes of each contact (names are empty)
        with db.session_scope() as session:
            raw = session.scalars(select(type_coerce(Contact.phone, Text))).all()
            assert raw and all(value.startswith("t2:") for value in raw)
            assert find_by_phone(session, "+33612345603") is not None
        assert keys.rotate(batch=3) == 0  # idempotent
    finally:
        crypto.configure(old)


def test_rotation_covers_totp_and_webhook_secrets(runtime: Settings) -> None:
    """Authentication secrets are encrypted columns, so ``relais keys rotate`` re-encrypts them."""
    covered = {f"{c.table.name}.{c.column.name}" for c in keys.encrypted_columns()}
    assert {"users.totp_secret", "users.totp_pending_secret", "webhook_subscriptions.secret"} <= covered
    with db.session_scope() as session:
        user = accounts.create_user(session, email="a@example.com", password="long enough pw", role="agent")
        user.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DP"
    old = crypto.keyring()
    crypto.configure(crypto.KeyRing(keys=(("t2", base64.b64decode(_key(b"n"))), *old.keys), index_key=old.index_key))
    try:
        assert keys.rotate() == 1
        with db.session_scope() as session:
            assert session.scalars(select(type_coerce(User.totp_secret, Text))).one().startswith("t2:")
            assert session.scalars(select(User)).one().totp_secret == "JBSWY3DPEHPK3PXPJBSWY3DP"
    finally:
        crypto.configure(old)
