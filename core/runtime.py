"""Process start-up: settings → secrets → encryption keys → database engine.

Every entry point (API, worker, CLI command, test) calls :func:`bootstrap` once, so the wiring
lives in one place.
"""

from __future__ import annotations

import os

from core import crypto, db
from core.secrets_store import resolve_secrets
from core.settings import Settings, SettingsError, get_settings


def bootstrap(settings: Settings | None = None) -> Settings:
    """Configure keys and the database for this process; raises :class:`SettingsError`."""
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    found = resolve_secrets(settings)
    try:
        crypto.configure(crypto.KeyRing.parse(found.encryption_keys, found.blind_index_key))
    except crypto.KeyConfigError as exc:
        raise SettingsError(str(exc)) from None
    db.configure(settings.resolved_database_url)
    return settings


def secret_key(settings: Settings) -> str:
    return resolve_secrets(settings).secret_key
