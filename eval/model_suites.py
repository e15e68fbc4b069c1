"""Suites of one model alone: sentiment (UMSAB), language ID (UMSAB + short messages), keywords.

* ``sentiment``: the shipped sentiment model on a UMSAB-style folder (``--data``, default the
  shared ``umsab``), split ``--split`` (default ``val``): accuracy and macro-F1, per language.
* ``language``: :func:`agent.language.detect_language` (no prior) on the same UMSAB texts plus the
  short replies of ``eval.training.language_compare``; accuracy by message length.
* ``keywords``: the compliance layer a customer meets on a fresh deployment, on
  ``eval/suites/keywords.yaml`` (or ``--data``): the keyword table
  (:func:`agent.keywords.match_keyword`), then the built-in intents (:mod:`agent.intent.builtin`,
  trained from ``agent/resources/intents_builtin.yaml`` as ``relais migrate`` does) through the real
  policy (:func:`agent.policy.decide`). ``expect`` gives the action(s) allowed: ``opt_out``, ``help``,
  ``opt_in``, ``confirm_opt_out`` or ``none`` (anything else: a reply or an escalation). Figures:

  - ``opt_out_recall``: the cases that must opt out (``decision: opt_out``, the table's words) that
    did: 1.0, a missed STOP is a compliance failure;
  - ``nl_opt_out_recall`` / ``nl_opt_out_confirmed``: natural-language opt-outs (``decision_in:
    [opt_out, confirm_opt_out]``) unsubscribed at once (a confident intent) / asked "reply STOP";
    ``opt_out_handled``: every opt-out case that got one or the other;
  - ``opt_out_recall_unseen`` / ``opt_out_handled_unseen``: the same on the phrasings no table and
    no training example holds (:func:`eval.cases.seen_phrasings`), and ``unseen_share`` their share;
  - ``false_opt_out_rate`` / ``false_confirm_rate``: harmless cases (look-alikes included)
    unsubscribed / asked to confirm.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from agent.intent.spec import builtin_spec
from agent.intent.trainer import train_intents
from agent.keywords import match_keyword
from agent.language import SUPPORTED_LANGUAGES, detect_language
from agent.policy import Signals, Thresholds, decide
from agent.sentiment import analyze_sentiment_batch, load_sentiment_model
from eval import metrics
from eval.cases import Case, load_cases, unseen_share
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


@register("sentiment")
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


@register("language")
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


#: Policy actions the keyword suite tells apart; any other (reply, escalate, silent) is "none".
_COMPLIANCE_ACTIONS = frozenset({"opt_out", "confirm_opt_out", "help", "opt_in"})


def _compliance_actions(cases: list[Case]) -> list[str]:
    """What a fresh deployment does with each case: keyword table, then built-in intents, by the policy."""
    model = train_intents(builtin_spec())
    predictions = model.predict([case.text for case in cases])
    thresholds = Thresholds()
    actions: list[str] = []
    for case, prediction in zip(cases, predictions, strict=True):
        # intent_model=False: the built-ins alone cannot call a question out of scope (policy rule 7);
        # best_score=1.0: retrieval is not what this suite measures; opted_out=True: a yes-like
        # keyword (OUI, SÍ, JA) re-subscribes only a contact who opted out, the case that matters
        signals = Signals(text=case.text, keyword=match_keyword(case.text, prior=case.contact_language),
                          opted_out=True, intent=prediction, intent_model=False, best_score=1.0)
        action = decide(signals, thresholds).action
        actions.append(action if action in _COMPLIANCE_ACTIONS else "none")
    return actions


@register("keywords")
def keywords(options: RunOptions) -> Report:
    path = options.data or SUITES_DIR / "keywords.yaml"
    cases = load_cases(path)
    options.progress.start(f"built-in intents, then {len(cases)} compliance cases", 2)
    actions = _compliance_actions(cases)
    options.progress.advance(2)
    gold, predicted, failures = [], [], []
    for case, got in zip(cases, actions, strict=True):
        allowed = case.expect.decisions() or ["none"]
        gold.append(got if got in allowed else allowed[0])
        predicted.append(got)
        if got not in allowed:
            detail = ", ".join(case.tags)
            failures.append(Failure(id=case.id, input=case.text, expected=" or ".join(allowed), got=got, detail=detail))
    report = metrics.classification(gold, predicted)
    by_id = dict(zip((c.id for c in cases), actions, strict=True))
    must = [by_id[c.id] == "opt_out" for c in cases if c.expect.decisions() == ["opt_out"]]
    natural = [by_id[c.id] for c in cases if c.is_opt_out and c.expect.decisions() != ["opt_out"]]
    handled = [by_id[c.id] in ("opt_out", "confirm_opt_out") for c in cases if c.is_opt_out]
    unseen = [by_id[c.id] for c in cases if c.is_opt_out and c.seen is False]
    harmless = [by_id[c.id] for c in cases if not c.is_opt_out and "opt_out" not in c.expect.decisions()]
    opted = [c.is_opt_out for c in cases if by_id[c.id] == "opt_out"]
    summary: dict[str, float | int | None] = {
        "accuracy": report.accuracy,
        "opt_out_recall": metrics.share(must),
        "nl_opt_out_recall": metrics.share([a == "opt_out" for a in natural]),
        "nl_opt_out_confirmed": metrics.share([a == "confirm_opt_out" for a in natural]),
        "opt_out_handled": metrics.share(handled),
        "opt_out_recall_unseen": metrics.share([a == "opt_out" for a in unseen]),
        "opt_out_handled_unseen": metrics.share([a in ("opt_out", "confirm_opt_out") for a in unseen]),
        "unseen_share": unseen_share(cases),
        # 1.0 exactly when no harmless case was unsubscribed; n/a when nothing was
        "opt_out_precision": metrics.share(opted),
        "false_opt_out_rate": metrics.share([a == "opt_out" for a in harmless]),  # n/a without a harmless case
        "false_confirm_rate": metrics.share([a == "confirm_opt_out" for a in harmless]),
        "n": len(cases),
    }
    return Report(suite="keywords", summary=summary, data=f"{path}; keyword table + built-in intents",
                  metrics={"classification": report.to_dict()},
                  charts={"Recall by action": {c.label: c.recall for c in report.per_class}},
                  confusion={"labels": report.labels, "matrix": report.confusion}, failures=failures)
