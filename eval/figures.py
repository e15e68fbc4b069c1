"""What each summary figure of an eval report means, in words a QA reader does not have to decode.

Reports name their figures as code does (``macro_f1``, ``opt_out_handled_unseen``,
``purchase_auc_rfm_logistic``); the console's QA page showed those names alone. :func:`describe`
gives each a short name and a one-line meaning: a figure of the table below as it is, a variant of
one (a baseline measured beside it, a subset, a spread or an interval end) composed from the figure it
varies, and a name it cannot read as the name itself, so a new figure is never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from babel import Locale, UnknownLocaleError

from eval.metrics import NOT_APPLICABLE


@dataclass(frozen=True)
class Figure:
    """A figure's short name ("Opt-outs handled") and what it measures, in one line."""

    name: str
    words: str
    meaning: str


_FIGURES: dict[str, tuple[str, str]] = {
    "accuracy": ("Accuracy", "share of texts given the expected label"),
    "macro_f1": ("Macro-F1", "precision and recall together, averaged over labels, each counting the same"),
    "in_scope_accuracy": ("In-scope accuracy", "share of in-scope questions given the expected intent"),
    "oos_recall": ("Out-of-scope caught", "share of out-of-scope texts recognised as out of scope"),
    "oos_precision": ("Out-of-scope precision", "share of texts called out of scope that were"),
    "accuracy_4plus_words": ("Accuracy, 4+ words", "share of texts of four words or more given the right language"),
    "accuracy_1_3_words": ("Accuracy, 1-3 words", "share of texts of one to three words given the right language"),
    "accuracy_10_per_intent": ("Accuracy, 10 examples", "accuracy when each intent is trained on 10 examples only"),
    "latency_p50_ms": ("Median time (ms)", "half the texts took less than this many milliseconds"),
    "latency_p95_ms": ("Slow time (ms)", "95 texts in 100 took less than this many milliseconds"),
    "n": ("Cases", "how many cases were measured"),
    "cases": ("Cases", "how many cases were measured"),
    "positives": ("Responders", "measured customers who responded"),
    "customers": ("Customers", "how many customers were measured"),
    "buyers": ("Buyers", "measured customers who bought in the period"),
    "matched": ("Replayed sends", "logged sends where the policy chose the arm actually sent, so they count"),
    "pass_rate": ("Cases passed", "share of cases meeting every expectation"),
    "decision_accuracy": ("Right decision", "share of texts answered, escalated or opted out as expected"),
    "escalation_precision": ("Escalation precision", "share of texts sent to a person that needed one"),
    "escalation_recall": ("Escalation recall", "share of texts needing a person that were sent to one"),
    "opt_out_recall": ("Opt-outs honoured", "share of opt-out requests that unsubscribed the customer"),
    "opt_out_handled": ("Opt-outs handled", "share of opt-out requests unsubscribed or asked to reply STOP"),
    "opt_out_precision": ("Opt-out precision", "share of unsubscriptions that were asked for (1: none by mistake)"),
    "nl_opt_out_recall": ("Own-words opt-outs honoured", "share of opt-outs in own words that unsubscribed"),
    "nl_opt_out_confirmed": ("Own-words opt-outs asked", "share of opt-outs in own words asked to reply STOP"),
    "false_opt_out_rate": ("Wrong opt-outs", "share of harmless texts that unsubscribed the customer (goal 0)"),
    "false_confirm_rate": ("Needless STOP questions", "share of harmless texts asked to reply STOP to opt out"),
    "unseen_share": ("Unseen wordings", "share of opt-out cases worded unlike any training example"),
    "intent_accuracy": ("Right intent", "share of texts given the expected intent"),
    "language_accuracy": ("Right language", "share of texts given the expected language"),
    "source_accuracy": ("Right source", "share of answers taken from the expected knowledge passage"),
    "fact_coverage": ("Facts stated", "average share of the expected facts a reply states"),
    "leak_free": ("No leaks", "share of replies revealing nothing they must not (instructions, other data)"),
    "groundedness": ("Grounded", "average share of a reply's statements backed by the passages it used"),
    "mrr": ("Mean reciprocal rank", "1 / the expected passage's rank, averaged (1: always first)"),
    "purchase_auc": ("Purchase ranking (AUC)", "chance a buyer is ranked above a non-buyer (0.5: a coin toss)"),
    "spend_spearman": ("Spend order (Spearman)", "how well predicted spend orders customers by actual spend"),
    "revenue_error": ("Revenue error", "gap between predicted and actual revenue, as a share of actual"),
    "revenue_accuracy": ("Revenue accuracy", "1 minus the revenue error"),
    "next_purchase_mae_days": ("Next purchase error (days)", "average days between predicted and actual next purchase"),
    "hour_hit_pm1": ("Send hour within 1 h", "share of customers who engaged within an hour of the predicted hour"),
    "lift_over_one_best_hour": ("Gain over one hour", "send-hour hits gained over sending everyone at one best hour"),
    "lift_ci95_low": ("Gain over one hour, low", "low end of the gain's 95 % interval"),
    "lift_ci95_high": ("Gain over one hour, high", "high end of the gain's 95 % interval"),
    "hit_at_10": ("Next purchase in top 10", "share of customers who next bought one of the 10 products recommended"),
    "uplift_top30": ("Uplift, top 30 %", "extra response from contacting the 30 % the model ranks highest"),
    "uplift_all": ("Uplift, everyone", "extra response from contacting everyone"),
    "replay_visit_rate": ("Visit rate (replay)", "visit rate the adaptive policy reaches, replayed on logged sends"),
    "auc": ("Response ranking (AUC)", "chance a responder is ranked above a non-responder (0.5: a coin toss)"),
}

# A figure measured beside another: the other's name + this ending. Longest endings first.
_BASELINES: dict[str, str] = {
    "_two_model_lr": "two-model logistic regression",
    "_logistic_regression": "logistic regression",
    "_gradient_boosting": "gradient boosting",
    "_rfm_logistic": "RFM logistic regression",
    "_one_best_hour": "one best hour for everyone",
    "_most_popular": "the most popular products",
    "_usual_hour": "each customer's usual hour",
    "_ab_commit": "A/B test, then the winner",
    "_best_arm": "the best single message",
    "_own_top10": "each customer's own top 10",
    "_own_gap": "each customer's usual gap",
    "_run_rate": "past spending rate",
    "_thompson": "Thompson sampling",
    "_recency": "recency alone",
    "_random": "random order",
}
_VARIANTS: dict[str, tuple[str, str]] = {
    "_control10": ("with a 10 % control group", "with 10 % of sends held back as a control"),
    "_warm": ("warm start", "starting from earlier campaigns' results"),
    "_unseen": ("unseen wordings", "on wordings unlike any training example"),
}
_SPREADS: dict[str, tuple[str, str]] = {
    "_seed_std": ("spread", "standard deviation across training seeds"),
    "_ci90_low": ("low", "low end of the 90 % interval"),
    "_ci90_high": ("high", "high end of the 90 % interval"),
}
_HIT_AT = re.compile(r"^hit@(\d+)$")
_BY_LANGUAGE = re.compile(r"^(.+)_([a-z]{2})$")


def _language(code: str) -> str | None:
    try:
        return str(Locale.parse(code).get_display_name("en"))
    except (ValueError, UnknownLocaleError):
        return None


def _words(base: str) -> tuple[str, str] | None:
    """(words, meaning) of a summary key without its suite prefix, or None when it cannot be read."""
    if base in _FIGURES:
        return _FIGURES[base]
    if hit := _HIT_AT.match(base):
        return f"Found in top {hit[1]}", f"share of questions whose expected passage is among the first {hit[1]} found"
    for ending, (words, meaning) in _SPREADS.items():
        if base.endswith(ending) and (of := _words(base.removesuffix(ending))):
            return f"{of[0]}, {words}", f"{meaning} of “{of[0]}”"
    for ending, baseline in _BASELINES.items():
        if base.endswith(ending) and (of := _words(base.removesuffix(ending))):
            return f"{of[0]}: {baseline}", f"“{of[0]}” for {baseline}, a baseline to compare with"
    for ending, (words, meaning) in _VARIANTS.items():
        if base.endswith(ending) and (of := _words(base.removesuffix(ending))):
            return f"{of[0]}, {words}", f"{of[1]}, {meaning}"
    if (by := _BY_LANGUAGE.match(base)) and (of := _words(by[1])) and (language := _language(by[2])):
        return f"{of[0]}, {language}", f"{of[1]}, in {language}"
    return None


def describe(name: str) -> Figure:
    """Words and a one-line meaning for the summary figure ``name`` (``suite.figure`` accepted); a name
    this module cannot read keeps the name as its words and an empty meaning."""
    words = _words(name.rsplit(".", 1)[-1])
    return Figure(name, *(words or (name, "")))


#: figures that are sizes (never a share): shown as whole numbers
COUNT_FIGURES = frozenset({"n", "cases", "positives", "customers", "buyers", "matched"})
#: figures between 0 and 1 that are no share of anything: a ranking's AUC (0.5 is a coin toss), a rank correlation
#: (-1 to 1), a mean reciprocal rank. Read as percentages they said "a Spearman of 41 %"
_SCORES = ("purchase_auc", "spend_spearman", "auc", "mrr")

Unit = Literal["count", "ms", "days", "score", "share"]


def unit(name: str) -> Unit:
    """How the summary figure ``name`` (``suite.figure`` accepted) is read: a count, milliseconds, days, a score, or
    a share (the rest: accuracies, recalls, rates, shares of cases), shown as a percentage."""
    base = name.rsplit(".", 1)[-1]
    if base in COUNT_FIGURES:
        return "count"
    if base.endswith("_ms"):
        return "ms"
    if "_days" in base:
        return "days"
    if any(base == score or base.startswith(f"{score}_") for score in _SCORES):
        return "score"
    return "share"


def fmt(value: Any, name: str = "") -> str:
    """A figure as shown. With its ``name``, in its unit (:func:`unit`), the console's QA page and each run's
    ``report.html`` alike: a share as a percentage ("99.2 %"), a count whole, times and days to a tenth, a score to
    three decimals. The QA page showed "0.992" where the run's report said "99.2 %", and the report turned any figure
    between 0 and 1 into a percentage: a Spearman of 0.41 read "41.0 %", a gap of 0.8 days "80.0 %". Without a name,
    three decimals (a chart's bar)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NOT_APPLICABLE if value is None else str(value)  # None: nothing to measure
    kind = unit(name) if name else None
    if kind == "share":
        return f"{value * 100:.1f} %"
    if kind in ("ms", "days"):
        return f"{value:,.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2f}"
    if kind == "count" or isinstance(value, int):
        return f"{value:,.0f}" if kind == "count" else str(value)
    return f"{value:.3f}"


def change(delta: float | None, name: str) -> str:
    """A change since the previous run in the figure's unit, signed: "+1.2 pts" for a share (percentage points),
    "-3.1" for a time, "+0.013" for a score, "+10" for a count; "±0" for none; "" for a first run."""
    if delta is None:
        return ""
    if not delta:
        return "±0"
    kind = unit(name)
    if kind == "share":
        return f"{delta * 100:+.1f} pts"
    if kind == "count":
        return f"{delta:+,.0f}"
    if kind in ("ms", "days"):
        return f"{delta:+,.1f}"
    return f"{delta:+.3f}"
