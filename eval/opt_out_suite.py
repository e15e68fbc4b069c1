"""The ``optout`` suite: natural-language opt-outs against harmless look-alikes, six languages.

A false opt-out writes the consent ledger and tells a customer who asked about a wrong size that
they are unsubscribed; a missed one keeps texting someone who said stop. This suite measures both
on ``eval/suites/opt_out_phrasings.yaml`` (or ``--data``), split ``--split`` (``report`` by default;
``choose`` is where :data:`agent.policy.OPT_OUT_DIRECT_CONFIDENCE` was chosen), with the model a
fresh deployment has (the built-in intents, :mod:`agent.intent.builtin`) and the real policy:

* ``opt_out_recall``: opt-outs unsubscribed directly; ``opt_out_handled``: unsubscribed or asked
  to confirm with STOP (``confirm_opt_out``);
* ``false_opt_out_rate``: harmless texts that would be unsubscribed (goal 0); ``false_confirm_rate``:
  harmless texts asked "reply STOP to stop all messages" (a nuisance, not a consent change);
* ``metrics.sweep``: both rates for every candidate direct threshold, and ``metrics.choice``: the
  lowest candidate above every harmless text's opt-out confidence (the rule used on ``choose``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agent.intent.spec import builtin_spec
from agent.intent.trainer import train_intents
from agent.keywords import match_keyword
from agent.policy import OPT_OUT_INTENT, Signals, Thresholds, decide
from eval.paths import SUITES_DIR
from eval.report import Failure, Report
from eval.runner import RunOptions, SuiteSkipped, register

LABELS = ("opt_out", "harmless")
#: Direct opt-out thresholds the choice is made among.
CANDIDATES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


@dataclass(frozen=True)
class Phrasing:
    language: str
    label: str  # "opt_out" or "harmless"
    text: str


def load_phrasings(path: Path, split: str) -> list[Phrasing]:
    """The phrasings of ``split`` in ``path``; raises :class:`SuiteSkipped` for an unknown split."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if split not in data:
        raise SuiteSkipped(f"{path} has no split {split!r} (it holds {sorted(data)})")
    rows = []
    for language, labelled in data[split].items():
        for label, texts in labelled.items():
            if label not in LABELS:
                raise ValueError(f"{path}: {split}.{language}: label {label!r} is not one of {LABELS}")
            rows += [Phrasing(str(language), label, str(text)) for text in texts]
    return rows


def choose_direct_threshold(harmless: np.ndarray, candidates: tuple[float, ...] = CANDIDATES) -> float:
    """The lowest candidate above every harmless text's opt-out confidence (no false opt-out)."""
    top = float(harmless.max()) if len(harmless) else 0.0
    return next((c for c in candidates if c > top), candidates[-1])


def _rate(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


@register("optout")
def optout(options: RunOptions) -> Report:
    path = options.data or SUITES_DIR / "opt_out_phrasings.yaml"
    split = options.split or "report"
    rows = load_phrasings(path, split)
    options.progress.start(f"built-in intents, then {len(rows)} phrasings", 2)
    model = train_intents(builtin_spec())
    options.progress.advance()
    texts = [r.text for r in rows]
    predictions = model.predict(texts)
    thresholds = Thresholds()
    actions = []
    for row, prediction in zip(rows, predictions, strict=True):
        signals = Signals(text=row.text, keyword=match_keyword(row.text, prior=row.language), intent=prediction,
                          intent_model=False, best_score=1.0)
        actions.append(decide(signals, thresholds).action)
    options.progress.advance()
    positive = [r.label == "opt_out" for r in rows]
    summary: dict[str, float | int] = {
        "opt_out_recall": _rate([a == "opt_out" for a, p in zip(actions, positive, strict=True) if p]),
        "opt_out_handled": _rate([a in ("opt_out", "confirm_opt_out")
                                  for a, p in zip(actions, positive, strict=True) if p]),
        "false_opt_out_rate": _rate([a == "opt_out" for a, p in zip(actions, positive, strict=True) if not p]),
        "false_confirm_rate": _rate([a == "confirm_opt_out" for a, p in zip(actions, positive, strict=True)
                                     if not p]),
        "n": len(rows),
    }
    # ledger opt-outs that were asked for: 1.0 exactly when there is no false opt-out
    opted = [p for a, p in zip(actions, positive, strict=True) if a == "opt_out"]
    summary["opt_out_precision"] = _rate(opted) if opted else 0.0
    confidence = np.array([p.confidence if p.intent == OPT_OUT_INTENT else 0.0 for p in predictions])
    pos = np.array(positive)
    sweep = {str(c): {"recall": round(float(np.mean(confidence[pos] >= c)), 4),
                      "false_opt_out_rate": round(float(np.mean(confidence[~pos] >= c)), 4)} for c in CANDIDATES}
    by_language: dict[str, dict[str, Any]] = defaultdict(dict)
    for language in sorted({r.language for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.language == language]
        by_language[language] = {
            "opt_out_recall": _rate([actions[i] == "opt_out" for i in idx if positive[i]]),
            "false_opt_out_rate": _rate([actions[i] == "opt_out" for i in idx if not positive[i]]),
        }
    failures = [
        Failure(id=f"{r.language}#{i}", input=r.text, expected=r.label, got=a,
                detail=f"opt-out confidence {confidence[i]:.3f}")
        for i, (r, a) in enumerate(zip(rows, actions, strict=True))
        if (r.label == "opt_out") != (a == "opt_out")
    ]
    failures.sort(key=lambda f: f.expected != "harmless")  # false opt-outs first
    return Report(
        suite="optout", summary=summary, data=f"{path} [{split}]; built-in intents ({model.backend})",
        metrics={"sweep": sweep, "by_language": dict(by_language),
                 "choice": {"direct_threshold": choose_direct_threshold(confidence[~pos]),
                            "in_use": thresholds.opt_out_direct_confidence},
                 "confidence": [{"text": r.text, "label": r.label, "opt_out": round(float(c), 4)}
                                for r, c in zip(rows, confidence, strict=True)]},
        charts={"Direct opt-out recall by language": {k: v["opt_out_recall"] for k, v in by_language.items()}},
        failures=failures,
    )
