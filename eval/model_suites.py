"""Suites of one model alone: sentiment (UMSAB), language ID (UMSAB + short messages), keywords.

* ``sentiment``: the shipped sentiment model on a UMSAB-style folder (``--data``, default the
  shared ``umsab``), split ``--split`` (default ``val``): accuracy and macro-F1, per language.
* ``language``: :func:`agent.language.detect_language` (no prior) on the same UMSAB texts plus the
  short replies of ``eval.training.language_compare``; accuracy by message length.
* ``keywords``: :func:`agent.keywords.match_keyword` on ``eval/suites/keywords.yaml`` (or ``--data``):
  ``expect.decision`` is the keyword kind (``opt_out``/``help``/``opt_in``) or ``none``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from agent.keywords import match_keyword
from agent.language import SUPPORTED_LANGUAGES, detect_language
from agent.sentiment import analyze_sentiment_batch, load_sentiment_model
from eval import metrics
from eval.cases import load_cases
from eval.datasets.umsab import LABEL_NAMES, UMSAB_LANGUAGES, UmsabRow, load_umsab
from eval.paths import SUITES_DIR, shared_data_dir
from eval.report import Failure, Report
from eval.runner import RunOptions, SuiteSkipped, register
from eval.training.language_compare import SHORT_MESSAGES
from knowledge.embeddings import get_embedder

BATCH = 128


def _umsab(options: RunOptions) -> tuple[Path, str, list[UmsabRow]]:
    root = options.data or shared_data_dir() / "umsab"
    split = options.split or "val"
    if not root.is_dir():
        raise SuiteSkipped(f"UMSAB folder not found at {root} (set RELAIS_SHARED_DATA or pass --data)")
    present = [folder for folder in UMSAB_LANGUAGES if (root / folder / f"{split}_text.txt").is_file()]
    if not present:
        raise SuiteSkipped(f"no language folder of {root} holds the split {split!r}")
    rows = load_umsab(root, split, languages=present)  # the languages the folder holds
    if options.limit is not None:  # the same number from every language
        per_language = max(1, options.limit // len({r.language for r in rows}))
        seen: dict[str, int] = defaultdict(int)
        kept = []
        for row in rows:
            seen[row.language] += 1
            if seen[row.language] <= per_language:
                kept.append(row)
        rows = kept
    return root, split, rows


def _per_language(rows: list[UmsabRow], gold: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for language in sorted({r.language for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.language == language]
        report = metrics.classification([gold[i] for i in idx], [predicted[i] for i in idx])
        out[language] = {"accuracy": report.accuracy, "macro_f1": report.macro_f1, "n": report.n}
    return out


@register("sentiment", "Sentiment model on UMSAB (folder + split): accuracy and macro-F1 per language")
def sentiment(options: RunOptions) -> Report:
    root, split, rows = _umsab(options)
    model = load_sentiment_model()
    embedder = get_embedder(model.embedder)
    options.progress.start(f"sentiment of {len(rows)} messages", len(rows))
    predicted: list[str] = []
    seconds: list[float] = []
    for start in range(0, len(rows), BATCH):
        texts = [r.text for r in rows[start:start + BATCH]]
        began = time.perf_counter()
        results = analyze_sentiment_batch(texts, embedder.embed(texts), model=model)
        seconds += [(time.perf_counter() - began) / len(texts)] * len(texts)
        predicted += [r.label for r in results]
        options.progress.advance(len(texts))
    gold = [LABEL_NAMES[r.label] for r in rows]
    report = metrics.classification(gold, predicted)
    by_language = _per_language(rows, gold, predicted)
    latency = metrics.latency(seconds)
    summary: dict[str, float | int] = {"accuracy": report.accuracy, "macro_f1": report.macro_f1}
    summary |= {f"accuracy_{lang}": v["accuracy"] for lang, v in by_language.items()}
    summary |= {"latency_p50_ms": latency["p50_ms"], "n": report.n}
    failures = [Failure(id=f"{r.language}#{i}", input=r.text, expected=g, got=p)
                for i, (r, g, p) in enumerate(zip(rows, gold, predicted, strict=True)) if g != p]
    return Report(suite="sentiment", summary=summary, data=f"{root} [{split}]",
                  metrics={"classification": report.to_dict(), "by_language": by_language, "latency": latency},
                  charts={"Accuracy by language": {k: v["accuracy"] for k, v in by_language.items()}},
                  confusion={"labels": report.labels, "matrix": report.confusion}, failures=failures)


@register("language", "Language ID on UMSAB texts + short replies: accuracy by message length")
def language(options: RunOptions) -> Report:
    root, split, rows = _umsab(options)
    samples = [(r.text, r.language) for r in rows]
    samples += [(text, lang) for lang, texts in sorted(SHORT_MESSAGES.items()) for text in texts]
    options.progress.start(f"language of {len(samples)} messages", len(samples))
    predicted: list[str] = []
    seconds: list[float] = []
    for text, _ in samples:
        began = time.perf_counter()
        predicted.append(detect_language(text).language)
        seconds.append(time.perf_counter() - began)
        options.progress.advance()
    gold = [lang for _, lang in samples]
    buckets = [metrics.length_bucket(text) for text, _ in samples]
    by_length = metrics.accuracy_by_bucket(gold, predicted, buckets)
    report = metrics.classification(gold, predicted)
    latency = metrics.latency(seconds)
    summary: dict[str, float | int] = {
        "accuracy": report.accuracy,
        "accuracy_4plus_words": by_length.get("4+ words", {}).get("accuracy", 0.0),
        "accuracy_1_3_words": by_length.get("1-3 words", {}).get("accuracy", 0.0),
        "latency_p50_ms": latency["p50_ms"], "latency_p95_ms": latency["p95_ms"], "n": len(samples),
    }
    failures = [Failure(id=f"{g}#{i}", input=t, expected=g, got=p, detail=b)
                for i, ((t, g), p, b) in enumerate(zip(samples, predicted, buckets, strict=True)) if g != p]
    failures.sort(key=lambda f: f.detail != "4+ words")  # long-message failures matter most
    return Report(suite="language", summary=summary, data=f"{root} [{split}] + short replies",
                  metrics={"classification": report.to_dict(), "by_length": by_length, "latency": latency,
                           "languages": list(SUPPORTED_LANGUAGES)},
                  charts={"Accuracy by length": {k: v["accuracy"] for k, v in by_length.items()},
                          "Recall by language": {c.label: c.recall for c in report.per_class}},
                  confusion={"labels": report.labels, "matrix": report.confusion}, failures=failures)


@register("keywords", "Compliance keywords (STOP/HELP/START) in six languages: opt-out recall must be 100 %")
def keywords(options: RunOptions) -> Report:
    path = options.data or SUITES_DIR / "keywords.yaml"
    cases = load_cases(path)
    options.progress.start(f"{len(cases)} keyword cases", len(cases))
    gold, predicted, failures = [], [], []
    for case in cases:
        match = match_keyword(case.text, prior=case.contact_language)
        got = match.kind if match is not None else "none"
        want = case.expect.decision or "none"
        gold.append(want)
        predicted.append(got)
        if got != want:
            failures.append(Failure(id=case.id, input=case.text, expected=want, got=got, detail=", ".join(case.tags)))
        options.progress.advance()
    report = metrics.classification(gold, predicted)
    opt_out = metrics.binary([g == "opt_out" for g in gold], [p == "opt_out" for p in predicted])
    harmless = [p == "opt_out" for g, p in zip(gold, predicted, strict=True) if g != "opt_out"]
    summary = {"accuracy": report.accuracy, "opt_out_recall": opt_out["recall"],
               "opt_out_precision": opt_out["precision"],
               # share of the cases that are no opt-out (look-alikes included) the table would opt out
               "false_opt_out_rate": metrics.share(harmless),  # n/a (None) without a harmless case
               "n": len(cases)}
    return Report(suite="keywords", summary=summary, data=str(path),
                  metrics={"classification": report.to_dict(), "opt_out": opt_out},
                  charts={"Recall by kind": {c.label: c.recall for c in report.per_class}},
                  confusion={"labels": report.labels, "matrix": report.confusion}, failures=failures)
