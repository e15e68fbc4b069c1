"""Fine-tuning MiniLM on a deployment's intent examples (the ``minilm-tuned`` backend part).

Real MiniLM from its pip package, real torch training on a few dozen examples (a few seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.intent import IntentClassifier, IntentModelStore, TrainingConfig, parse_spec
from agent.intent.embedding import resolve_embedder
from agent.intent.trainer import train_intents
from agent.intent.tuning import TuningConfig, tune_encoder
from agent.pipeline import Pipeline
from core.settings import load_settings
from knowledge.embeddings import get_embedder

# Near neighbours for a frozen encoder: the same card, the same top-up, opposite situations.
CONFUSABLE = {
    "card_arrival": [
        "my new card has still not arrived",
        "when will the card you sent me get here",
        "how long does card delivery take",
        "the card hasn't come in the post yet",
        "is my card on its way",
        "i'm still waiting for my card to be delivered",
    ],
    "card_not_working": [
        "my new card does not work",
        "the card you sent me is declined everywhere",
        "my card stopped working in shops",
        "the card got rejected at the till",
        "why is my card not accepted",
        "the card is broken, payments fail",
    ],
    "top_up_failed": [
        "my top-up failed",
        "i tried to top up but it did not go through",
        "the top up was declined",
        "topping up my account is not working",
        "why did my top-up fail",
        "adding money did not work",
    ],
    "top_up_reverted": [
        "my top-up was reversed",
        "the money i added was taken back",
        "my top up went through and then got cancelled",
        "why was my top-up reverted",
        "the top up disappeared from my balance",
        "the funds i topped up were returned",
    ],
}
SPEC = {
    "intents": [{"name": name, "examples": {"en": texts}} for name, texts in CONFUSABLE.items()],
    "out_of_scope": ["what is the weather like", "tell me a joke", "who won the match", "recommend a film",
                     "how tall is mount everest", "what is the capital of peru"],
    "generic_out_of_scope": False,
}
FAST = TuningConfig(epochs=1, min_steps=20)


def separation(vectors: np.ndarray, targets: np.ndarray) -> float:
    """Mean cosine to examples of the same class minus mean cosine to the other classes."""
    similarity = vectors @ vectors.T
    same = targets[:, None] == targets[None, :]
    np.fill_diagonal(same, False)
    other = targets[:, None] != targets[None, :]
    return float(similarity[same].mean() - similarity[other].mean())


def examples() -> tuple[list[str], np.ndarray]:
    texts = [text for group in CONFUSABLE.values() for text in group]
    targets = np.array([k for k, group in enumerate(CONFUSABLE.values()) for _ in group])
    return texts, targets


def test_tuning_moves_confusable_intents_apart_deterministically() -> None:
    texts, targets = examples()
    before = separation(get_embedder("minilm").embed(texts), targets)
    tuned = tune_encoder(texts, targets.tolist(), FAST)
    after_vectors = tuned.embed(texts)
    assert tuned.name == "minilm-tuned" and after_vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(after_vectors, axis=1), 1.0, atol=1e-5)
    assert separation(after_vectors, targets) > before + 0.05
    again = tune_encoder(texts, targets.tolist(), FAST).embed(texts)
    assert np.allclose(again, after_vectors, atol=1e-5)


def test_tuning_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="two classes"):
        tune_encoder(["a", "b"], [0, 0], FAST)
    with pytest.raises(ValueError, match="length"):
        tune_encoder(["a", "b"], [0], FAST)
    with pytest.raises(ValueError, match="at least 1"):
        TuningConfig(epochs=0)


@pytest.fixture(scope="module")
def model() -> IntentClassifier:
    config = TrainingConfig(folds=2, tuning=FAST)
    return train_intents(parse_spec(SPEC), backend="minilm-tuned+use-multilingual", config=config)


HELD_OUT = {
    "still no sign of the card you posted": "card_arrival",
    "the shop refused my card again": "card_not_working",
    "top-up did not work this morning": "top_up_failed",
    "the top up i made got reversed": "top_up_reverted",
}


def test_a_tuned_model_carries_its_encoder_and_reads_new_messages(model: IntentClassifier) -> None:
    assert model.encoder is not None and model.backend == "minilm-tuned+use-multilingual"
    assert model.embedder.dim == 384 + 512
    assert model.metrics["tune_seconds"] > 0 and model.metrics["oos_class"] is True
    assert [p.intent for p in model.predict(list(HELD_OUT))] == list(HELD_OUT.values())
    assert model.predict(["how tall is the eiffel tower"])[0].intent is None


def test_a_tuned_model_round_trips_through_the_store(model: IntentClassifier, tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path / "intents")
    version = store.save(model)
    assert [v.tuned_encoder for v in store.versions() if v.version == version] == [True]
    loaded = store.load()
    assert loaded.encoder is not None and loaded.backend == model.backend
    texts = [*HELD_OUT, "what is the weather like"]
    assert np.allclose(loaded.embedder.embed(texts), model.embedder.embed(texts), atol=1e-5)
    assert [p.intent for p in loaded.predict(texts)] == [p.intent for p in model.predict(texts)]


def test_the_pipeline_embeds_with_the_models_own_encoder(model: IntentClassifier, tmp_path: Path) -> None:
    pipeline = Pipeline(settings=load_settings(data_dir=tmp_path), knowledge=None, intents=model)
    analysis = pipeline.analyze("the top up i made got reversed", contact_language="en", use_llm=False)
    assert analysis.intent is not None and analysis.intent.intent == "top_up_reverted"


def test_a_tuned_backend_needs_its_encoder(model: IntentClassifier) -> None:
    with pytest.raises(ValueError, match="tuned encoder"):
        resolve_embedder("minilm-tuned+use-multilingual")
    with pytest.raises(ValueError, match="tuned encoder"):
        IntentClassifier(spec=model.spec, backend=model.backend, head=model.head, threshold=model.threshold)
