"""Where eval reads data and writes caches and reports.

* Public data sets: ``RELAIS_SHARED_DATA`` when set, else ``../shared/data`` beside the repository
  (how CI lays it out).
* Caches (trained intent models, embeddings, the demo business workspace):
  ``<data_dir>/eval/``; a rerun on the same training file and backend reuses them.
* Reports: ``<data_dir>/reports/<suite>/<timestamp>/`` (what the API lists).
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SUITES_DIR = Path(__file__).resolve().parent / "suites"


def shared_data_dir() -> Path:
    """The public data sets folder (it may not exist: callers report a clear reason)."""
    configured = os.environ.get("RELAIS_SHARED_DATA")
    return Path(configured) if configured else (REPO.parent / "shared" / "data").resolve()


def cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "eval"


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def new_report_dir(settings: Settings, suite: str, now: datetime | None = None) -> Path:
    """A fresh ``<data_dir>/reports/<suite>/<UTC timestamp>`` (suffixed when one exists already)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = reports_dir(settings) / suite
    candidate, n = base / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def file_hash(path: Path, extra: str = "") -> str:
    """First 16 hex digits of the SHA-256 of a file's bytes (and ``extra``): a cache key."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(extra.encode("utf-8"))
    return digest.hexdigest()[:16]
