"""Sentiment with the shipped weights and the real multilingual USE embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.sentiment import (
    DEFAULT_MODEL_PATH,
    LABELS,
    LEXICON_DIM,
    SentimentModel,
    analyze_sentiment,
    analyze_sentiment_batch,
    lexicon_features,
    load_sentiment_model,
)
from knowledge.embeddings import get_embedder

POSITIVE = {
    "en": "Thank you so much, great service!",
    "fr": "Merci beaucoup, service parfait, je suis ravie !",
    "es": "¡Muchas gracias, excelente servicio!",
    "de": "Vielen Dank, super Service, ich bin begeistert!",
    "it": "Grazie mille, ottimo servizio!",
    "pt": "Muito obrigado, ótimo atendimento!",
}
NEGATIVE = {
    "en": "This is terrible, I am really angry",
    "fr": "C'est nul, je suis très déçu et en colère",
    "es": "Esto es horrible, estoy muy enfadado",
    "de": "Das ist schrecklich, ich bin sehr verärgert",
    "it": "È terribile, sono molto arrabbiato",
    "pt": "Isso é horrível, estou muito irritado",
}
NEUTRAL = {
    "en": "What time do you open?",
    "fr": "Quelle est votre adresse ?",
    "de": "Wann öffnen Sie?",
    "pt": "Qual é o endereço?",
}


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], tuple[str, float, float]]:
    keys = [("positive", k) for k in POSITIVE] + [("negative", k) for k in NEGATIVE] + \
        [("neutral", k) for k in NEUTRAL]
    texts = [{"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}[kind][lang] for kind, lang in keys]
    found = analyze_sentiment_batch(texts)
    return {key: (r.label, r.score, r.confidence) for key, r in zip(keys, found, strict=True)}


@pytest.mark.parametrize("lang", list(POSITIVE))
def test_clear_positive(results: dict, lang: str) -> None:
    label, score, confidence = results[("positive", lang)]
    assert label == "positive"
    assert score > 0.5
    assert confidence > 0.5


@pytest.mark.parametrize("lang", list(NEGATIVE))
def test_clear_negative(results: dict, lang: str) -> None:
    label, score, _ = results[("negative", lang)]
    assert label == "negative"
    assert score < -0.5


@pytest.mark.parametrize("lang", list(NEUTRAL))
def test_plain_questions_are_neutral(results: dict, lang: str) -> None:
    label, score, _ = results[("neutral", lang)]
    assert label == "neutral"
    assert abs(score) < 0.3


def test_single_message_matches_batch() -> None:
    single = analyze_sentiment(NEGATIVE["fr"])
    batch = analyze_sentiment_batch([POSITIVE["en"], NEGATIVE["fr"]])[1]
    assert single.label == batch.label
    assert single.score == pytest.approx(batch.score, abs=1e-5)
    assert -1.0 <= single.score <= 1.0


def test_precomputed_embeddings_give_the_same_answer() -> None:
    texts = [POSITIVE["it"], NEGATIVE["es"], "ok 😡"]
    embeddings = get_embedder("use-multilingual").embed(texts)
    assert analyze_sentiment_batch(texts, embeddings) == analyze_sentiment_batch(texts)


def test_angry_emoji_alone_is_negative() -> None:
    assert analyze_sentiment("😡😡").label == "negative"


def test_wrong_embeddings_are_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        analyze_sentiment_batch(["a", "b"], np.zeros((2, 384), dtype=np.float32))
    with pytest.raises(ValueError, match="expected"):
        analyze_sentiment_batch(["a", "b"], np.zeros((1, 512), dtype=np.float32))


def test_empty_batch() -> None:
    assert analyze_sentiment_batch([]) == []


def test_shipped_model_is_small_and_uses_use() -> None:
    model = load_sentiment_model()
    assert DEFAULT_MODEL_PATH.stat().st_size < 1_000_000
    assert model.embedder == "use-multilingual"
    assert model.input_dim == 512 + (LEXICON_DIM if model.lexicon else 0)


def test_lexicon_features() -> None:
    rows = lexicon_features(["merci beaucoup 😊", "grr 😡😡 :(", "http://x.com", "what?!!", "AND: so :price"]) * 3
    assert rows.tolist() == [[1, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 2, 1], [0, 0, 0, 0]]


def test_model_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    model = SentimentModel(
        layers=((rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)),
                (rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32))),
        embedder="use-multilingual",
        lexicon=False,
    )
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = SentimentModel.load(path)
    features = rng.normal(size=(4, 6)).astype(np.float32)
    probabilities = loaded.predict_proba(features)
    assert np.allclose(probabilities, model.predict_proba(features))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (loaded.embedder, loaded.lexicon, len(loaded.layers)) == ("use-multilingual", False, 2)
    # a hidden ReLU layer really is applied: compare with a hand computation
    hidden = np.maximum(features @ model.layers[0][0] + model.layers[0][1], 0) @ model.layers[1][0] \
        + model.layers[1][1]
    expected = np.exp(hidden) / np.exp(hidden).sum(axis=1, keepdims=True)
    assert np.allclose(probabilities, expected, atol=1e-5)


def test_model_file_with_other_labels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, labels=np.array(["bad", "good"]), embedder=np.array("use-multilingual"),
             lexicon=np.array(False), weight_0=np.zeros((2, 2)), bias_0=np.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        SentimentModel.load(path)
    assert LABELS == ("negative", "neutral", "positive")
