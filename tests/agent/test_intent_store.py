"""The versioned intent model store: save, load, list, activate, roll back, all as plain files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.intent import IntentClassifier, IntentModelStore, TrainingConfig, parse_spec, train_on_vectors
from core.errors import Conflict, NotFound

DIM = 16


def make_model(names: tuple[str, ...] = ("billing", "delivery", "returns"), seed: int = 0) -> IntentClassifier:
    """A model over synthetic clustered vectors: the store only cares about arrays and metadata."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(names) + 1, DIM))
    spec = parse_spec(
        {
            "intents": [
                {"name": n, "examples": [f"{n} one", f"{n} two"], "escalate": i == 0} for i, n in enumerate(names)
            ],
            "generic_out_of_scope": False,
        }
    )
    labels = [n for n in names for _ in range(12)]
    vectors = np.vstack([centres[i] + 0.1 * rng.normal(size=(12, DIM)) for i in range(len(names))])
    oos = centres[-1] + 0.1 * rng.normal(size=(9, DIM))
    return train_on_vectors(
        spec, "test-backend", vectors.astype(np.float32), labels, oos.astype(np.float32), TrainingConfig(folds=3)
    )


def test_save_then_load_gives_the_same_predictions(tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path / "models" / "intents")
    model = make_model()
    version = store.save(model, now=datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    assert version == f"20261125T130000Z-{model.spec.content_hash()[:12]}"
    assert store.active_version() == version
    loaded = store.load()
    probe = np.random.default_rng(5).normal(size=(20, DIM)).astype(np.float32)
    assert loaded.predict_embeddings(probe) == model.predict_embeddings(probe)
    assert loaded.spec == model.spec and loaded.threshold == model.threshold
    assert model.oos_log_ratio is not None and loaded.oos_log_ratio == model.oos_log_ratio
    assert loaded.backend == "test-backend" and loaded.head.temperature == model.head.temperature
    assert loaded.metrics["n_intents"] == 3

    folder = tmp_path / "models" / "intents" / version
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.npz", "spec.yaml"]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["spec_hash"] == model.spec.content_hash() and meta["backend"] == "test-backend"
    with np.load(folder / "model.npz", allow_pickle=False) as arrays:  # no pickled objects inside
        assert list(arrays["labels"]) == ["billing", "delivery", "returns", "__out_of_scope__"]


def test_versions_activate_and_rollback(tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path)
    moment = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    v1 = store.save(make_model(), now=moment)
    v1_again = store.save(make_model(), now=moment)  # same spec, same second: a distinct id
    v2 = store.save(make_model(("billing", "delivery", "returns", "sizes"), seed=1), now=moment, activate=False)
    assert v1_again == f"{v1}-2" and v2 != v1
    assert [v.version for v in store.versions()] == sorted([v1, v1_again, v2])
    assert store.active_version() == v1_again
    assert [v.version for v in store.versions() if v.active] == [v1_again]
    listed = {v.version: v for v in store.versions()}
    assert listed[v2].intents == ("billing", "delivery", "returns", "sizes")

    store.activate(v2)
    assert store.load().intents == ("billing", "delivery", "returns", "sizes")
    assert store.rollback() == v1_again
    assert store.rollback() == v1
    assert store.load().intents == ("billing", "delivery", "returns")
    with pytest.raises(Conflict):
        store.rollback()

    with pytest.raises(Conflict):
        store.delete(v1)  # active
    store.delete(v2)
    assert v2 not in [v.version for v in store.versions()]
    with pytest.raises(NotFound):
        store.load(v2)


def test_an_empty_store_has_nothing_to_load(tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path / "nothing")
    assert store.versions() == [] and store.active_version() is None
    with pytest.raises(NotFound, match="no active intent model"):
        store.load()
    with pytest.raises(NotFound):
        store.activate("../../etc")


def test_a_model_stored_before_the_log_ratio_loads_with_its_probability_threshold(tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path)
    version = store.save(make_model())
    meta_path = tmp_path / version / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["oos_log_ratio"]
    meta_path.write_text(json.dumps(meta))
    loaded = store.load()
    assert loaded.oos_log_ratio is None and loaded.threshold == meta["threshold"]
