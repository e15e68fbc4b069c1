"""Versioned store of trained intent models, in a database every host shares; no pickle.

A deployment's store (:func:`agent.runtime.intent_store`) lives in its database (tables
``intent_models`` and ``intent_model_activations``, :mod:`agent.models`), so a model trained by a
worker on one host is loaded by API replicas and workers on every other. Each version row holds:

- ``head``: weights, bias and labels as ``numpy.savez`` bytes (read back with ``allow_pickle=False``);
- ``meta``: format, temperature, threshold, oos_log_ratio (absent in older models: None), metrics;
- ``spec_yaml``: the spec the model was trained on;
- ``encoder``: for a ``minilm-tuned`` backend, the fine-tuned MiniLM's folder (sentence-transformers
  layout, safetensors) as an uncompressed tar, unpacked once per host into ``cache_dir``.

The newest activation row names the active version; the rows before it are the history a rollback
walks back through. ``IntentModelStore(path)`` keeps the same tables in a SQLite file of its own
(``<path>/intents.sqlite3``), for evaluation caches and tests.

A version id is ``<UTC timestamp>-<first 12 hex digits of the spec's content hash>``; a version is
written in one transaction, so a reader never sees half a model.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import Select, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent.intent.classifier import IntentClassifier
from agent.intent.head import SoftmaxHead
from agent.intent.spec import parse_spec
from agent.intent.tuning import load_tuned_encoder
from agent.models import IntentActivation, IntentModel
from core.db import make_engine
from core.errors import Conflict, NotFound

FORMAT_VERSION = 1
STANDALONE_FILE = "intents.sqlite3"
_VERSION = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}(-\d+)?$")
_unpack_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One stored model as listed by :meth:`IntentModelStore.versions`."""

    version: str
    created_at: str
    backend: str
    spec_hash: str
    intents: tuple[str, ...]
    metrics: dict[str, Any]
    active: bool
    tuned_encoder: bool


def _head_bytes(model: IntentClassifier) -> bytes:
    buffer = io.BytesIO()
    head = model.head
    np.savez(buffer, weights=head.weights.astype(np.float32), bias=head.bias.astype(np.float32),
             labels=np.array(head.labels, dtype=str))
    return buffer.getvalue()


def _encoder_bytes(model: IntentClassifier) -> bytes | None:
    if model.encoder is None:
        return None
    with tempfile.TemporaryDirectory(prefix="relais-encoder-") as folder:
        model.encoder.save(Path(folder))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.add(folder, arcname=".")
        return buffer.getvalue()


def _unpack_encoder(data: bytes, target: Path) -> Path:
    """``target`` holding the encoder folder, unpacked once (a concurrent reader waits or reuses it)."""
    with _unpack_lock:
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
            archive.extractall(staging, filter="data")  # no absolute paths, links out or devices
        os.replace(staging, target)
        return target


class IntentModelStore:
    """Save, list, load, activate and roll back intent models.

    ``location`` is an :class:`~sqlalchemy.engine.Engine` on a migrated database (a deployment's)
    or a folder for a standalone SQLite store (created with its tables). ``cache_dir`` is where this
    host unpacks tuned encoders (default: ``<folder>/encoders``, or the system's temporary folder).
    """

    def __init__(self, location: Engine | str | Path, *, cache_dir: Path | None = None) -> None:
        if isinstance(location, Engine):
            engine = location
            self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "relais-intent-encoders"
        else:
            folder = Path(location)
            folder.mkdir(parents=True, exist_ok=True)
            engine = make_engine(f"sqlite:///{(folder / STANDALONE_FILE).resolve()}")
            # its own two tables only: sorting the whole metadata fails when another package's
            # foreign key names a table whose module this process never imported
            metadata = IntentModel.metadata
            own = (IntentModel.__tablename__, IntentActivation.__tablename__)
            metadata.create_all(engine, tables=[metadata.tables[name] for name in own])
            self.cache_dir = cache_dir or folder / "encoders"
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def _session(self, session: Session | None = None) -> Iterator[Session]:
        """``session`` (the caller's transaction, which commits) or a transaction of the store's own."""
        if session is not None:
            yield session
            session.flush()
            return
        with self._sessions.begin() as own:
            yield own

    # -- writing -----------------------------------------------------------------------------
    def save(self, model: IntentClassifier, *, activate: bool = True, now: datetime | None = None) -> str:
        """Store ``model`` as a new version and return its id; make it active unless told not to."""
        moment = now or datetime.now(UTC)
        spec_hash = model.spec.content_hash()
        base = f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{spec_hash[:12]}"
        head, encoder = _head_bytes(model), _encoder_bytes(model)
        meta = {"format": FORMAT_VERSION, "temperature": model.head.temperature, "threshold": model.threshold,
                "oos_log_ratio": model.oos_log_ratio, "metrics": model.metrics}
        with self._session() as session:
            taken = set(session.scalars(select(IntentModel.version).where(IntentModel.version.startswith(base))))
            version, suffix = base, 1
            while version in taken:
                suffix += 1
                version = f"{base}-{suffix}"
            session.add(IntentModel(version=version, created_at=moment, backend=model.backend, spec_hash=spec_hash,
                                    intents=list(model.spec.names), meta=meta, spec_yaml=model.spec.to_yaml(),
                                    head=head, encoder=encoder))
            session.flush()
            if activate:
                _activate(session, version)
        return version

    def activate(self, version: str, *, session: Session | None = None) -> None:
        """Make ``version`` the active model; raises :class:`NotFound` for an unknown version.
        ``session``: write in the caller's transaction (an API request's) instead of one of its own."""
        with self._session(session) as session:
            _require(session, version)
            _activate(session, version)

    def rollback(self, *, session: Session | None = None) -> str:
        """Re-activate the version that was active before the current one and return it.

        Raises :class:`Conflict` when there is nothing to roll back to. ``session`` as for :meth:`activate`.
        """
        with self._session(session) as session:
            rows = list(session.scalars(select(IntentActivation).order_by(IntentActivation.id.desc())))
            current = rows[0].version if rows else None
            dropped = 0
            while dropped < len(rows) and rows[dropped].version == current:
                dropped += 1
            if dropped == len(rows):
                raise Conflict("no earlier intent model to roll back to")
            session.execute(delete(IntentActivation).where(IntentActivation.id > rows[dropped].id))
            return rows[dropped].version

    def delete(self, version: str) -> None:
        """Remove a stored version; the active one cannot be removed (:class:`Conflict`)."""
        with self._session() as session:
            row = _require(session, version)
            if version == _active(session):
                raise Conflict(f"intent model {version} is active; activate another one first")
            session.execute(delete(IntentActivation).where(IntentActivation.version == version))
            session.delete(row)

    # -- reading -----------------------------------------------------------------------------
    def active_version(self) -> str | None:
        """The active version id: one indexed query, cheap enough to ask before every message."""
        with self._session() as session:
            return _active(session)

    def versions(self, *, session: Session | None = None) -> list[ModelVersion]:
        """Every stored version, oldest first (read in ``session`` when given)."""
        with self._session(session) as session:
            active = _active(session)
            columns = (IntentModel.version, IntentModel.created_at, IntentModel.backend, IntentModel.spec_hash,
                       IntentModel.intents, IntentModel.meta, IntentModel.encoder.is_not(None))
            rows = session.execute(select(*columns).order_by(IntentModel.version)).all()
        return [
            ModelVersion(version=version, created_at=_iso(created), backend=backend, spec_hash=spec_hash,
                         intents=tuple(intents), metrics=meta.get("metrics", {}), active=version == active,
                         tuned_encoder=bool(tuned))
            for version, created, backend, spec_hash, intents, meta, tuned in rows
        ]

    def load(self, version: str | None = None) -> IntentClassifier:
        """Load ``version``, or the active one; raises :class:`NotFound` when there is none."""
        with self._session() as session:
            if version is None:
                version = _active(session)
                if version is None:
                    raise NotFound("no active intent model: train one with `relais intents load FILE`")
            row = _require(session, version)
            meta, backend, spec_yaml = row.meta, row.backend, row.spec_yaml
            head_data, encoder_data = row.head, row.encoder
        if meta.get("format") != FORMAT_VERSION:
            raise Conflict(f"intent model {version} has format {meta.get('format')}; expected {FORMAT_VERSION}")
        with np.load(io.BytesIO(head_data), allow_pickle=False) as arrays:
            head = SoftmaxHead(labels=tuple(str(label) for label in arrays["labels"]), weights=arrays["weights"],
                               bias=arrays["bias"], temperature=float(meta["temperature"]))
        spec = parse_spec(yaml.safe_load(spec_yaml), source=f"intent model {version}")
        encoder = None
        if encoder_data is not None:
            encoder = load_tuned_encoder(_unpack_encoder(encoder_data, self.cache_dir / version))
        ratio = meta.get("oos_log_ratio")
        return IntentClassifier(spec=spec, backend=backend, head=head, threshold=float(meta["threshold"]),
                                metrics=meta.get("metrics", {}), encoder=encoder,
                                oos_log_ratio=None if ratio is None else float(ratio))


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def active_version_select() -> Select[str]:
    """The active version id (no row: none); one indexed lookup, cheap enough before every message."""
    return select(IntentActivation.version).order_by(IntentActivation.id.desc()).limit(1)


def _active(session: Session) -> str | None:
    return session.scalar(active_version_select())


def _activate(session: Session, version: str) -> None:
    if _active(session) != version:
        session.add(IntentActivation(version=version))


def _require(session: Session, version: str) -> IntentModel:
    row = session.get(IntentModel, version) if _VERSION.match(version) else None
    if row is None:
        raise NotFound(f"no intent model version {version!r}")
    return row
