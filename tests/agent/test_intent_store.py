"""The versioned intent model store: save, load, list, activate, roll back, in a database every host
shares (a deployment's, on SQLite and PostgreSQL) or a standalone SQLite file."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.intent import (
    IntentClassifier,
    IntentModelStore,
    TrainingConfig,
    parse_spec,
    train_intents,
    train_on_vectors,
)
from agent.intent.store import STANDALONE_FILE
from agent.intent.tuning import TUNED_PART
from agent.runtime import AgentRuntime, intent_store
from core.errors import Conflict, NotFound
from core.settings import Settings, load_settings
from knowledge.embeddings import SentenceTransformerEmbedder, minilm_path

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


EXAMPLES = {
    "billing": ["I was charged twice", "my invoice is wrong", "why is my bill so high"],
    "delivery": ["where is my parcel", "when will my order arrive", "my package is late"],
    "returns": ["how do I return an item", "I want to send these shoes back", "can I get a refund"],
}


def real_model(names: tuple[str, ...]) -> IntentClassifier:
    """A small model over the real multilingual embedder (what a runtime's pipeline embeds with)."""
    spec = parse_spec({"intents": [{"name": n, "examples": EXAMPLES[n]} for n in names],
                       "generic_out_of_scope": False})
    return train_intents(spec, config=TrainingConfig(folds=2))


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

    with sqlite3.connect(tmp_path / "models" / "intents" / STANDALONE_FILE) as conn:
        head, meta = conn.execute("SELECT head, meta FROM intent_models WHERE version = ?", (version,)).fetchone()
    assert json.loads(meta)["format"] == 1
    with np.load(io.BytesIO(head), allow_pickle=False) as arrays:  # no pickled objects inside
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
    with sqlite3.connect(tmp_path / STANDALONE_FILE) as conn:
        meta = json.loads(conn.execute("SELECT meta FROM intent_models").fetchone()[0])
        del meta["oos_log_ratio"]
        conn.execute("UPDATE intent_models SET meta = ? WHERE version = ?", (json.dumps(meta), version))
    loaded = store.load()
    assert loaded.oos_log_ratio is None and loaded.threshold == meta["threshold"]


def test_the_deployment_store_is_the_database_every_process_reads(runtime_any_db: Settings, tmp_path: Path) -> None:
    """A version saved through one data folder is active for a runtime on another data folder that
    shares the database, which reloads when the active version changes and keeps it otherwise."""
    writer = intent_store(runtime_any_db)
    first = writer.save(real_model(("billing", "delivery")))
    assert not (runtime_any_db.data_dir / "models").exists()  # nothing in this host's folder
    elsewhere = load_settings(data_dir=tmp_path / "other-host", database_url=runtime_any_db.resolved_database_url,
                              llm_base_url="", llm_model="")
    reader = AgentRuntime(elsewhere)
    try:
        model = reader.pipeline().intents
        assert model is not None and model.intents == ("billing", "delivery")
        assert reader.pipeline().intents is model  # unchanged version: the loaded model is kept
        second = writer.save(real_model(("billing", "delivery", "returns")))
        assert second != first and intent_store(elsewhere).active_version() == second
        reloaded = reader.pipeline().intents
        assert reloaded is not None and reloaded.intents == ("billing", "delivery", "returns")
        assert reader.pipeline().analyze("I want to return these shoes", use_llm=False).intent is not None
    finally:
        reader.close()


def test_a_tuned_encoder_travels_in_the_database_to_another_host(tmp_path: Path) -> None:
    """The encoder folder is stored with the version and unpacked by a reader with its own cache."""
    encoder = SentenceTransformerEmbedder.load(minilm_path(), TUNED_PART)
    model = replace(make_model(), backend=TUNED_PART, encoder=encoder)
    writer = IntentModelStore(tmp_path / "shared", cache_dir=tmp_path / "writer-cache")
    version = writer.save(model)
    assert [v.tuned_encoder for v in writer.versions()] == [True]
    reader = IntentModelStore(tmp_path / "shared", cache_dir=tmp_path / "reader-cache")
    loaded = reader.load()
    assert loaded.encoder is not None and (tmp_path / "reader-cache" / version / "config.json").is_file()
    texts = ["the top up i made got reversed", "où est mon colis ?"]
    assert np.allclose(loaded.encoder.embed(texts), encoder.embed(texts), atol=1e-6)
