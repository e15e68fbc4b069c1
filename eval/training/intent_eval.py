"""Measure the intent trainer on CLINC150 and BANKING77 and print a table.

    python -m eval.training.intent_eval                       # everything, default backends
    python -m eval.training.intent_eval --suite clinc --backends use-multilingual+minilm
    python -m eval.training.intent_eval --clinc-eval FILE --clinc-eval-splits test,oos_test

Suites:
- ``clinc``: train on ``train`` (+ ``oos_train`` as out-of-scope examples, or without any), report
  in-scope accuracy (right intent and not rejected) and OOS recall on ``val`` + ``oos_val`` (or the
  splits named by ``--clinc-eval-splits`` of ``--clinc-eval``).
- ``banking``: train on BANKING77 ``train.csv`` minus a carved 10 % validation split (all of it,
  and 10 examples per intent), report top-1 accuracy and accuracy with out-of-scope rejection.
- ``speed``: train on CLINC150 150 intents x 20 examples from text (embedding included).

Only training data choose anything: calibration and the OOS threshold come from cross-validation
inside :func:`agent.intent.trainer.train_on_vectors`; the evaluation splits only measure.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.intent.classifier import IntentClassifier
from agent.intent.embedding import resolve_embedder
from agent.intent.spec import IntentDef, IntentSpec
from agent.intent.trainer import TrainingConfig, train_intents, train_on_vectors
from eval.datasets.banking77 import carve_validation, few_shot, load_banking77
from eval.datasets.clinc150 import load_clinc150

DATA = Path("/work/shared/data")
DEFAULT_BACKENDS = ("use-multilingual", "minilm", "use-multilingual+minilm")


@dataclass(frozen=True)
class Result:
    """One line of the table."""

    suite: str
    setting: str
    backend: str
    n_train: int
    embed_seconds: float
    head_seconds: float
    top1_accuracy: float
    in_scope_accuracy: float
    oos_recall: float | None


class Embeddings:
    """Embeds texts per backend, optionally caching arrays on disk (``--cache-dir``) between runs.

    A concatenated backend reuses its parts' vectors. The seconds reported for a cached array are
    the ones measured when it was computed.
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._memory: dict[tuple[str, str], tuple[np.ndarray, float]] = {}

    def embed(self, backend: str, texts: Sequence[str]) -> tuple[np.ndarray, float]:
        parts = backend.split("+")
        if len(parts) > 1:  # what ConcatEmbedder computes, from each part's (cached) vectors
            embedded = [self.embed(part, texts) for part in parts]
            scale = np.float32(1.0 / np.sqrt(len(parts)))
            return np.hstack([v * scale for v, _ in embedded]), sum(sec for _, sec in embedded)
        digest = hashlib.sha256("\n".join([backend, *texts]).encode("utf-8")).hexdigest()[:24]
        if (backend, digest) in self._memory:
            return self._memory[(backend, digest)]
        path = self.cache_dir / f"{digest}.npz" if self.cache_dir else None
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as saved:
                found = (saved["vectors"], float(saved["seconds"]))
        else:
            started = time.perf_counter()
            vectors = resolve_embedder(backend).embed(list(texts))
            found = (vectors, time.perf_counter() - started)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, vectors=vectors, seconds=found[1])
        self._memory[(backend, digest)] = found
        return found


def intent_name(label: str) -> str:
    """A data set label as a valid spec name (BANKING77 has ``reverted_card_payment?``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", label).strip("_")


def spec_from_rows(rows: Sequence[tuple[str, str]], oos_texts: Sequence[str] = ()) -> IntentSpec:
    """An intent spec from ``(text, label)`` pairs, names made by :func:`intent_name`; a text
    labelled with two intents is dropped."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for text, label in rows:
        labels_of[" ".join(text.split()).casefold()].add(label)
    examples: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        if len(labels_of[" ".join(text.split()).casefold()]) == 1:
            examples[intent_name(label)].append(text)
    oos = [text for text in oos_texts if " ".join(text.split()).casefold() not in labels_of]
    intents = [IntentDef(name=name, examples=texts) for name, texts in examples.items()]
    return IntentSpec(intents=intents, out_of_scope=oos, generic_out_of_scope=False)


def _train(
    spec: IntentSpec, backend: str, embeddings: Embeddings, config: TrainingConfig
) -> tuple[IntentClassifier, float]:
    texts, labels = [], []
    for intent in spec.intents:
        for text in intent.all_examples():
            texts.append(text)
            labels.append(intent.name)
    vectors, seconds = embeddings.embed(backend, texts)
    oos_texts = spec.out_of_scope_examples()
    oos_vectors, oos_seconds = embeddings.embed(backend, oos_texts)
    model = train_on_vectors(spec, backend, vectors, labels, oos_vectors, config)
    return model, seconds + oos_seconds


def _score(
    model: IntentClassifier, backend: str, embeddings: Embeddings, texts: Sequence[str], gold: Sequence[str | None]
) -> tuple[float, float, float | None]:
    """(top-1 accuracy on in-scope, in-scope accuracy with rejection, OOS recall or None)."""
    vectors, _ = embeddings.embed(backend, texts)
    predictions = model.predict_embeddings(vectors)
    in_scope = [(p, intent_name(g)) for p, g in zip(predictions, gold, strict=True) if g is not None]
    oos = [p for p, g in zip(predictions, gold, strict=True) if g is None]
    top1 = float(np.mean([p.alternatives[0].name == g for p, g in in_scope]))
    accepted = float(np.mean([p.intent == g for p, g in in_scope]))
    recall = float(np.mean([p.is_out_of_scope for p in oos])) if oos else None
    return top1, accepted, recall


def run_clinc(args: argparse.Namespace, embeddings: Embeddings, config: TrainingConfig) -> list[Result]:
    train_data = load_clinc150(args.clinc, splits=["train", "oos_train"])
    eval_rows = [
        row for split in load_clinc150(args.clinc_eval, splits=args.clinc_eval_splits).values() for row in split
    ]
    in_rows = [(row.text, row.intent) for row in train_data["train"] if row.intent is not None]
    oos_train = [row.text for row in train_data["oos_train"]]
    results = []
    for backend in args.backends:
        for setting, oos in (("train+oos_train", oos_train), ("train, no OOS data", [])):
            model, embed_seconds = _train(spec_from_rows(in_rows, oos), backend, embeddings, config)
            top1, accepted, recall = _score(
                model, backend, embeddings, [row.text for row in eval_rows], [row.intent for row in eval_rows]
            )
            results.append(
                Result(
                    "clinc150 " + "+".join(args.clinc_eval_splits),
                    setting,
                    backend,
                    len(in_rows) + len(oos),
                    embed_seconds,
                    model.metrics["head_seconds"],
                    top1,
                    accepted,
                    recall,
                )
            )
            print(_format(results[-1]), flush=True)
    return results


def run_banking(args: argparse.Namespace, embeddings: Embeddings, config: TrainingConfig) -> list[Result]:
    train, val = carve_validation(load_banking77(args.banking))
    results = []
    for backend in args.backends:
        for setting, rows in (("full train", train), ("10 per intent", few_shot(train, 10))):
            model, embed_seconds = _train(
                spec_from_rows([(r.text, r.category) for r in rows]), backend, embeddings, config
            )
            top1, accepted, _ = _score(model, backend, embeddings, [r.text for r in val], [r.category for r in val])
            results.append(
                Result(
                    "banking77 carved val",
                    setting,
                    backend,
                    len(rows),
                    embed_seconds,
                    model.metrics["head_seconds"],
                    top1,
                    accepted,
                    None,
                )
            )
            print(_format(results[-1]), flush=True)
    return results


def run_speed(args: argparse.Namespace, config: TrainingConfig) -> list[Result]:
    """150 intents x 20 examples, from text, nothing cached (the embedder is loaded first).

    The setting column shows wall-clock and CPU seconds: on a shared host the CPU time says what
    the training costs, the wall-clock what the other jobs left of the machine.
    """
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in load_clinc150(args.clinc, splits=["train"])["train"]:
        if row.intent is not None and len(by_intent[row.intent]) < 20:
            by_intent[row.intent].append(row.text)
    spec = IntentSpec(intents=[IntentDef(name=k, examples=v) for k, v in by_intent.items()], generic_out_of_scope=False)
    results = []
    for backend in args.backends:
        resolve_embedder(backend).embed(["warm up"])
        started, cpu_started = time.perf_counter(), time.process_time()
        model = train_intents(spec, backend=backend, config=config)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        results.append(
            Result(
                "speed 150x20",
                f"{total:.1f}s (cpu {cpu:.0f}s)",
                backend,
                3000,
                model.metrics["embed_seconds"],
                model.metrics["head_seconds"],
                model.metrics["cv_accuracy"],
                model.metrics["cv_in_scope_accuracy"],
                None,
            )
        )
        print(_format(results[-1]), flush=True)
    return results


HEADER = (
    f"{'suite':<28} {'setting':<20} {'backend':<24} {'n train':>7} {'embed s':>8} {'head s':>7} "
    f"{'top-1':>6} {'in-scope':>8} {'OOS rec':>7}"
)


def _format(r: Result) -> str:
    recall = f"{r.oos_recall:.3f}" if r.oos_recall is not None else "-"
    return (
        f"{r.suite:<28} {r.setting:<20} {r.backend:<24} {r.n_train:>7} {r.embed_seconds:>8.1f} "
        f"{r.head_seconds:>7.1f} {r.top1_accuracy:>6.3f} {r.in_scope_accuracy:>8.3f} {recall:>7}"
    )


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="clinc,banking,speed", help="comma-separated: clinc, banking, speed")
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS), help="comma-separated backends")
    parser.add_argument("--clinc", type=Path, default=DATA / "clinc150" / "clinc150_train_val.json")
    parser.add_argument("--clinc-eval", type=Path, default=None, help="file to report on (default: --clinc)")
    parser.add_argument("--clinc-eval-splits", default="val,oos_val")
    parser.add_argument("--banking", type=Path, default=DATA / "banking77" / "train.csv")
    parser.add_argument("--c", type=float, nargs="+", default=list(TrainingConfig().c_values),
                        help="inverse L2 regularisation values; cross-validation picks one")
    parser.add_argument("--max-rejection", type=float, default=TrainingConfig.max_in_scope_rejection)
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache embeddings here between runs")
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    args.clinc_eval = args.clinc_eval or args.clinc
    args.clinc_eval_splits = [s for s in args.clinc_eval_splits.split(",") if s]
    suites = {s for s in args.suite.split(",") if s}
    config = TrainingConfig(c_values=tuple(args.c), max_in_scope_rejection=args.max_rejection)
    embeddings = Embeddings(args.cache_dir)
    print(HEADER, flush=True)
    results = []
    if "clinc" in suites:
        results += run_clinc(args, embeddings, config)
    if "banking" in suites:
        results += run_banking(args, embeddings, config)
    if "speed" in suites:
        results += run_speed(args, config)
    return results


if __name__ == "__main__":
    main()
