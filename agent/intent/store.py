"""Versioned store of trained intent models: plain files, no pickle.

Layout under the base directory (the lead points it at ``<data_dir>/models/intents``)::

    <version>/model.npz     weights, bias, labels (numpy arrays, loaded with allow_pickle=False)
    <version>/meta.json     backend, threshold, oos_log_ratio (absent in older models: None),
                            temperature, metrics, spec hash, created_at
    <version>/spec.yaml     the spec the model was trained on
    <version>/encoder/      the fine-tuned MiniLM (sentence-transformers layout, safetensors), only
                            for a ``minilm-tuned`` backend
    ACTIVE                  the active version id
    history.json            activations, oldest first, for rollback

A version id is ``<UTC timestamp>-<first 12 hex digits of the spec's content hash>``. Writes go
through a temporary file and :func:`os.replace`, so a reader never sees half a model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agent.intent.classifier import IntentClassifier
from agent.intent.head import SoftmaxHead
from agent.intent.spec import parse_spec
from agent.intent.tuning import load_tuned_encoder
from core.errors import Conflict, NotFound

FORMAT_VERSION = 1
ENCODER_DIR = "encoder"
_VERSION = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}(-\d+)?$")


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


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class IntentModelStore:
    """Save, list, load, activate and roll back intent models under ``base_dir``."""

    def __init__(self, base_dir: str | Path) -> None:
        self.base_dir = Path(base_dir)

    # -- writing -----------------------------------------------------------------------------
    def save(self, model: IntentClassifier, *, activate: bool = True, now: datetime | None = None) -> str:
        """Store ``model`` as a new version and return its id; make it active unless told not to."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        spec_hash = model.spec.content_hash()
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        version = f"{stamp}-{spec_hash[:12]}"
        suffix = 1
        while (self.base_dir / version).exists():
            suffix += 1
            version = f"{stamp}-{spec_hash[:12]}-{suffix}"
        staging = self.base_dir / f".{version}.partial"
        staging.mkdir()
        head = model.head
        np.savez(
            staging / "model.npz",
            weights=head.weights.astype(np.float32),
            bias=head.bias.astype(np.float32),
            labels=np.array(head.labels, dtype=str),
        )
        meta = {
            "format": FORMAT_VERSION,
            "version": version,
            "created_at": (now or datetime.now(UTC)).isoformat(),
            "backend": model.backend,
            "spec_hash": spec_hash,
            "temperature": head.temperature,
            "threshold": model.threshold,
            "oos_log_ratio": model.oos_log_ratio,
            "metrics": model.metrics,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        (staging / "spec.yaml").write_text(model.spec.to_yaml(), encoding="utf-8")
        if model.encoder is not None:
            model.encoder.save(staging / ENCODER_DIR)
        staging.rename(self.base_dir / version)
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        """Make ``version`` the active model; raises :class:`NotFound` for an unknown version."""
        self._require(version)
        history = self._history()
        if not history or history[-1] != version:
            history.append(version)
        _write_atomic(self.base_dir / "history.json", json.dumps(history).encode())
        _write_atomic(self.base_dir / "ACTIVE", version.encode())

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one and return it.

        Raises :class:`Conflict` when there is nothing to roll back to.
        """
        history = self._history()
        current = self.active_version()
        while history and history[-1] == current:
            history.pop()
        while history and not (self.base_dir / history[-1]).is_dir():  # a deleted version
            history.pop()
        if not history:
            raise Conflict("no earlier intent model to roll back to")
        previous = history[-1]
        _write_atomic(self.base_dir / "history.json", json.dumps(history).encode())
        _write_atomic(self.base_dir / "ACTIVE", previous.encode())
        return previous

    def delete(self, version: str) -> None:
        """Remove a stored version; the active one cannot be removed (:class:`Conflict`)."""
        self._require(version)
        if version == self.active_version():
            raise Conflict(f"intent model {version} is active; activate another one first")
        shutil.rmtree(self.base_dir / version)

    # -- reading -----------------------------------------------------------------------------
    def active_version(self) -> str | None:
        pointer = self.base_dir / "ACTIVE"
        return pointer.read_text().strip() if pointer.exists() else None

    def versions(self) -> list[ModelVersion]:
        """Every stored version, oldest first."""
        if not self.base_dir.is_dir():
            return []
        active = self.active_version()
        out = []
        for path in sorted(self.base_dir.iterdir()):
            if not (path.is_dir() and _VERSION.match(path.name)):
                continue
            meta = self._meta(path.name)
            spec = yaml.safe_load((path / "spec.yaml").read_text(encoding="utf-8"))
            out.append(
                ModelVersion(
                    version=path.name,
                    created_at=meta["created_at"],
                    backend=meta["backend"],
                    spec_hash=meta["spec_hash"],
                    intents=tuple(item["name"] for item in spec["intents"]),
                    metrics=meta["metrics"],
                    active=path.name == active,
                )
            )
        return out

    def load(self, version: str | None = None) -> IntentClassifier:
        """Load ``version``, or the active one; raises :class:`NotFound` when there is none."""
        if version is None:
            version = self.active_version()
            if version is None:
                raise NotFound("no active intent model: train one with `relais intents load FILE`")
        path = self._require(version)
        meta = self._meta(version)
        if meta.get("format") != FORMAT_VERSION:
            raise Conflict(f"intent model {version} has format {meta.get('format')}; expected {FORMAT_VERSION}")
        with np.load(path / "model.npz", allow_pickle=False) as arrays:
            head = SoftmaxHead(
                labels=tuple(str(label) for label in arrays["labels"]),
                weights=arrays["weights"],
                bias=arrays["bias"],
                temperature=float(meta["temperature"]),
            )
        spec_path = path / "spec.yaml"
        spec = parse_spec(yaml.safe_load(spec_path.read_text(encoding="utf-8")), source=str(spec_path))
        encoder = load_tuned_encoder(path / ENCODER_DIR) if (path / ENCODER_DIR).is_dir() else None
        return IntentClassifier(
            spec=spec, backend=meta["backend"], head=head, threshold=float(meta["threshold"]), metrics=meta["metrics"],
            encoder=encoder, oos_log_ratio=None if meta.get("oos_log_ratio") is None else float(meta["oos_log_ratio"]),
        )

    # -- helpers -----------------------------------------------------------------------------
    def _require(self, version: str) -> Path:
        path = self.base_dir / version
        if not _VERSION.match(version) or not path.is_dir():
            raise NotFound(f"no intent model version {version!r}")
        return path

    def _meta(self, version: str) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads((self.base_dir / version / "meta.json").read_text(encoding="utf-8"))
        return meta

    def _history(self) -> list[str]:
        path = self.base_dir / "history.json"
        history: list[str] = json.loads(path.read_text()) if path.exists() else []
        return history
