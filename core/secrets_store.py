"""Development secrets: generated once per data directory so a fresh ``make run`` needs no set-up.

Production refuses to start without real keys (see ``Settings._production_needs_secrets``); in
development and tests the keys live in ``<data_dir>/secrets.json`` (mode 0600) so encrypted data
survives restarts.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings


@dataclass(frozen=True)
class Secrets:
    """The three secrets every process needs."""

    encryption_keys: str
    blind_index_key: str
    secret_key: str


def _generated() -> dict[str, str]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "encryption_keys": f"k1:{key}",
        "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "secret_key": secrets.token_urlsafe(48),
    }


def resolve_secrets(settings: Settings) -> Secrets:
    """Secrets from the environment, else from (or into) the data directory's secrets file."""
    values = {
        "encryption_keys": settings.encryption_keys,
        "blind_index_key": settings.blind_index_key,
        "secret_key": settings.secret_key,
    }
    if all(values.values()):
        return Secrets(**values)
    path = Path(settings.data_dir) / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = _generated()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
    return Secrets(**{k: v or stored[k] for k, v in values.items()})
