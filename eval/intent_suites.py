"""CLINC150 and BANKING77 suites: train the intent model on a training file, measure on another.

Training reuses ``eval.training.intent_eval`` (the same spec building and embedding cache as the
intent helper's measurements); the trained model is kept in an :class:`IntentModelStore` under
``<data_dir>/eval/models/<train file hash>-<backend>[-subset]`` so a rerun only embeds the
evaluation texts (themselves cached on disk).

* ``clinc150``: train on ``train`` (+ ``oos_train`` as out-of-scope examples) of the shipped file
  or ``--train``; evaluate on every other split of ``--data`` (``val`` + ``oos_val`` by default,
  ``test`` + ``oos_test`` in the official file).
* ``banking77``: train on the shipped ``train.csv`` minus a carved 10 % validation split, and on
  10 examples per intent; evaluate on the carved split, or on all of ``--data`` when given.

A backend with a ``minilm-tuned`` part fine-tunes MiniLM on the training examples
(:mod:`agent.intent.tuning`): its vectors belong to one model, so they are never cached on disk,
and the stored model keeps its encoder.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from agent.intent.classifier import IntentClassifier
from agent.intent.embedding import is_tuned
from agent.intent.store import IntentModelStore
from agent.intent.trainer import TrainingConfig, train_intents, train_on_vectors
from core.errors import NotFound
from eval import metrics
from eval.datasets.banking77 import BankingRow, carve_validation, few_shot, load_banking77
from eval.datasets.clinc150 import OOS_LABEL, ClincRow, load_clinc150
from eval.paths import cache_dir, file_hash, shared_data_dir
from eval.report import Failure, Report, confused_pairs, intent_choices
from eval.runner import RunOptions, SuiteSkipped, register
from eval.training.intent_eval import Embeddings, intent_name, spec_from_rows

LATENCY_SAMPLE = 40


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise SuiteSkipped(f"{what} not found at {path} (set RELAIS_SHARED_DATA or pass --data/--train)")
    return path


# CLINC150 and BANKING77 are English: on their validation splits the USE + MiniLM concatenation beats
# either model alone (CLINC150 in-scope 94.9 % vs 91.3 %, docs/intents.md), so it is their default.
ENGLISH_BACKEND = "use-multilingual+minilm"
# With 10 examples per intent, MiniLM fine-tuned on them beats the frozen pair on the carved BANKING77
# validation split (docs/intents.md); it takes minutes, not seconds, so only the few-shot model uses it.
FEW_SHOT_BACKEND = "minilm-tuned+use-multilingual"


def intent_backend(options: RunOptions, default: str = ENGLISH_BACKEND) -> str:
    return options.backend or default


def train_cached(
    options: RunOptions, key: str, rows: Sequence[tuple[str, str]], oos: Sequence[str] = (), *, backend: str
) -> IntentClassifier:
    """The model for ``rows`` (``(text, label)``) cached under ``key``; trained (and stored) if absent.

    The cache folder also names a hash of the default :class:`TrainingConfig`, so a model trained
    with other knobs (an older out-of-scope budget) is not reused."""
    config = hashlib.sha256(repr(TrainingConfig()).encode()).hexdigest()[:8]
    store = IntentModelStore(cache_dir(options.settings) / "models" / f"{key}-{backend}-{config}")
    if store.active_version() is not None:
        try:
            return store.load()
        except NotFound:
            pass
    spec = spec_from_rows(rows, oos)
    texts = [text for intent in spec.intents for text in intent.all_examples()]
    labels = [intent.name for intent in spec.intents for _ in intent.all_examples()]
    options.progress.start(f"training {key} ({len(texts)} examples, {backend})", 2)
    if is_tuned(backend):
        options.progress.advance()
        model = train_intents(spec, backend=backend)
    else:
        embeddings = _embeddings(options)
        vectors, _ = embeddings.embed(backend, texts)
        oos_vectors, _ = embeddings.embed(backend, spec.out_of_scope_examples())
        options.progress.advance()
        model = train_on_vectors(spec, backend, vectors, labels, oos_vectors, TrainingConfig())
    store.save(model)
    options.progress.advance()
    return model


def _embeddings(options: RunOptions) -> Embeddings:
    return Embeddings(cache_dir(options.settings) / "embeddings")


def predict(
    options: RunOptions, model: IntentClassifier, texts: Sequence[str], batch: int = 256
) -> tuple[list[str], list[str]]:
    """``(labels, top1)``: each text's label (``oos`` when rejected) and its best in-scope intent,
    embedding in batches for the progress bar."""
    embeddings = _embeddings(options)
    options.progress.start(f"classifying {len(texts)} messages", len(texts))
    labels: list[str] = []
    top1: list[str] = []
    for start in range(0, len(texts), batch):
        chunk = list(texts[start : start + batch])
        vectors = model.embedder.embed(chunk) if is_tuned(model.backend) else embeddings.embed(model.backend, chunk)[0]
        for p in model.predict_embeddings(vectors):
            labels.append(p.intent or OOS_LABEL)
            top1.append(p.alternatives[0].name)
        options.progress.advance(len(chunk))
    return labels, top1


def _latency(model: IntentClassifier, texts: Sequence[str]) -> dict[str, float]:
    """Per-message latency (embedding included) on the first ``LATENCY_SAMPLE`` texts, one at a time."""
    seconds = []
    for text in texts[:LATENCY_SAMPLE]:
        started = time.perf_counter()
        model.predict([text])
        seconds.append(time.perf_counter() - started)
    return metrics.latency(seconds)


def intent_report(
    suite: str,
    data: str,
    texts: Sequence[str],
    gold: Sequence[str],
    predicted: Sequence[str],
    extra: dict[str, float] | None = None,
    latency: dict[str, float] | None = None,
) -> Report:
    """Accuracy, macro-F1, per-class figures, confusion; OOS figures when ``gold`` holds ``oos``."""
    report = metrics.classification(gold, predicted)
    summary: dict[str, float | int | None] = {"accuracy": report.accuracy, "macro_f1": report.macro_f1}
    found: dict[str, object] = {"classification": report.to_dict()}
    if OOS_LABEL in gold:
        oos = metrics.binary([g == OOS_LABEL for g in gold], [p == OOS_LABEL for p in predicted])
        summary |= {
            "in_scope_accuracy": metrics.in_scope_accuracy(gold, predicted),
            "oos_recall": oos["recall"],
            "oos_precision": oos["precision"],
        }
        found["oos"] = oos
    summary |= extra or {}
    if latency:
        summary |= {"latency_p50_ms": latency["p50_ms"], "latency_p95_ms": latency["p95_ms"]}
        found["latency"] = latency
    summary["n"] = len(gold)
    worst = sorted(report.per_class, key=lambda c: (c.f1, c.label))[:15]
    f1 = {c.label: c.f1 for c in report.per_class}
    failures = [
        Failure(id=f"#{i}", input=t, expected=g, got=p)
        for i, (t, g, p) in enumerate(zip(texts, gold, predicted, strict=True))
        if g != p
    ]
    failures.sort(key=lambda f: f1[str(f.expected)])  # the weakest classes' errors first
    return Report(
        suite=suite,
        summary=summary,
        metrics=found,
        data=data,
        charts={"Lowest F1 by class": {c.label: c.f1 for c in worst}},
        confusion={
            "labels": report.labels,
            "matrix": report.confusion,
            "top_pairs": confused_pairs(report.labels, report.confusion),
        },
        failures=failures,
    )


def _limit(rows: list[ClincRow], limit: int | None) -> list[ClincRow]:
    """At most ``limit`` rows, spread evenly over the list (which is grouped by intent)."""
    if limit is None or len(rows) <= limit:
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def clinc_subset(rows: Sequence[ClincRow], intents: int) -> list[ClincRow]:
    """Rows of the first ``intents`` intents in sorted order (and every out-of-scope row)."""
    keep = sorted({r.intent for r in rows if r.intent is not None})[:intents]
    return [r for r in rows if r.intent is None or r.intent in keep]


def run_clinc(
    options: RunOptions, *, intents: int | None = None, per_intent: int | None = None, suite: str = "clinc150"
) -> Report:
    """CLINC150 (see the module docstring); ``intents``/``per_intent`` train and test a subset (the gate)."""
    shipped = shared_data_dir() / "clinc150" / "clinc150_train_val.json"
    train_path = _require(options.train or shipped, "CLINC150 training file")
    eval_path = _require(options.data or shipped, "CLINC150 evaluation file")
    train = load_clinc150(train_path)
    if "train" not in train:
        raise SuiteSkipped(f"{train_path} has no 'train' split (it holds {sorted(train)})")
    evaluated = load_clinc150(eval_path)
    eval_splits = [s for s in evaluated if s not in ("train", "oos_train")]
    if not eval_splits:
        raise SuiteSkipped(f"{eval_path} holds only training splits")
    in_train = [r for r in train["train"] if r.intent is not None]
    eval_rows = [r for s in eval_splits for r in evaluated[s]]
    oos_train = [r.text for r in train.get("oos_train", [])]  # optional: the threshold still rejects
    key = file_hash(train_path)
    if intents is not None:
        in_train = clinc_subset(in_train, intents)
        eval_rows = clinc_subset(eval_rows, intents)
        key += f"-{intents}i"
    if per_intent is not None:
        counts: dict[str, int] = {}
        kept = []
        for row in in_train:
            counts[str(row.intent)] = counts.get(str(row.intent), 0) + 1
            if counts[str(row.intent)] <= per_intent:
                kept.append(row)
        in_train, key = kept, key + f"-{per_intent}pi"
    eval_rows = _limit(eval_rows, options.limit)
    rows = [(r.text, str(r.intent)) for r in in_train]
    model = train_cached(options, key, rows, oos_train, backend=intent_backend(options))
    texts = [r.text for r in eval_rows]
    gold = [intent_name(r.intent) if r.intent else OOS_LABEL for r in eval_rows]
    predicted, _ = predict(options, model, texts)
    data = f"{eval_path} [{'+'.join(eval_splits)}]; trained on {train_path}; backend {model.backend}"
    report = intent_report(suite, data, texts, gold, predicted, latency=_latency(model, texts))
    report.choices = intent_choices(model, f"{train_path.name} train + oos_train")
    return report


@register("clinc150")
def clinc150(options: RunOptions) -> Report:
    return run_clinc(options)


@register("banking77")
def banking77(options: RunOptions) -> Report:
    shipped = shared_data_dir() / "banking77" / "train.csv"
    train_path = _require(options.train or shipped, "BANKING77 training file")
    train_rows = load_banking77(train_path)
    if options.data is not None and options.data.resolve() != train_path.resolve():
        eval_rows: list[BankingRow] = load_banking77(_require(options.data, "BANKING77 evaluation file"))
        data = f"{options.data}; trained on {train_path}"
    else:
        train_rows, eval_rows = carve_validation(train_rows)
        data = f"{train_path} [carved 10 % validation]; trained on the rest"
    if options.limit is not None:
        eval_rows = eval_rows[:: max(1, len(eval_rows) // options.limit)][: options.limit]
    key = file_hash(train_path, "carved" if options.data is None else "full")
    texts = [r.text for r in eval_rows]
    gold = [intent_name(r.category) for r in eval_rows]
    # BANKING77 has no out-of-scope queries: accuracy is top-1 (as in the data set's paper), and the
    # share still right once the model's out-of-scope rejection applies is reported beside it
    full = train_cached(options, key, [(r.text, r.category) for r in train_rows], backend=intent_backend(options))
    accepted, predicted = predict(options, full, texts)
    few_rows = [(r.text, r.category) for r in few_shot(train_rows, 10)]
    few = train_cached(options, key + "-10pi", few_rows, backend=intent_backend(options, FEW_SHOT_BACKEND))
    data += f"; backend {full.backend} (10 per intent: {few.backend})"
    _, few_predicted = predict(options, few, texts)
    few_report = metrics.classification(gold, few_predicted)
    extra = {
        "accuracy_10_per_intent": few_report.accuracy,
        "accuracy_with_rejection": metrics.in_scope_accuracy(gold, accepted),
    }
    report = intent_report("banking77", data, texts, gold, predicted, extra=extra, latency=_latency(full, texts))
    report.metrics["ten_per_intent"] = few_report.to_dict()
    report.choices = intent_choices(full, f"{train_path.name}, minus the evaluated rows")
    return report
