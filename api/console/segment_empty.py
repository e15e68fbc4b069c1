"""Why the segment builder's rules match nobody, in words beside the "0 contacts right now".

Walking the marketer's journey on the demo, "likely to buy > 0.6 and churn risk at least 0.7" read "0 contacts
right now" and nothing else: every demo customer holds a churn risk of 2 % to 3 %, which no page said, so the
marketer could not tell a mistyped threshold from an empty shop. Each condition is counted on its own; one that
matches nobody is named as the page numbers it, with, for a threshold on a prediction, the values contacts hold
(``campaigns.prediction_rules.held``); when each matches some contacts alone, the page says it is their
combination that leaves nobody. Kinds nobody holds at all are ``prediction_rules.unheld``'s to explain.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from api.console import segment_form as builder_form
from api.console.predictions import shown
from campaigns import prediction_rules
from campaigns.shop_currency import shop_currency
from contacts import segments
from intelligence import summary

#: the builder's rows counted one by one only up to this many (a query each)
MAX_ROWS = 12
_THRESHOLDS = ("gt", "gte", "lt", "lte")


def _held_words(session: Session, row: builder_form.Row) -> str:
    """For a threshold on a prediction: the values the contacts holding one go between."""
    if row.field != "prediction" or row.op not in _THRESHOLDS:
        return ""
    held = prediction_rules.held(session, row.extra)
    if held is None:
        return ""
    label = builder_form.PREDICTION_LABELS[row.extra].removesuffix(" (0-1)")
    kind = summary.KindSummary(row.extra, label, held.contacts)
    currency = shop_currency(session) if row.extra in summary.AMOUNTS else ""
    low, high = shown(kind, held.low, currency), shown(kind, held.high, currency)
    who = "the one contact that has one" if held.contacts == 1 else f"the {held.contacts:,} contacts that have one"
    return f": {label} is {low} for {who}" if low == high else f": {label} goes from {low} to {high} among {who}"


def why_empty(session: Session, builder: builder_form.Builder, attributes: Mapping[str, str]) -> list[str]:
    """Sentences saying why ``builder``'s (valid) rules match no contact; empty past :data:`MAX_ROWS` rows."""
    rows = [(gi, ri, row) for gi, group in enumerate(builder.groups) for ri, row in enumerate(group.rows)]
    if len(rows) > MAX_ROWS:
        return []
    alone: list[tuple[str, int, builder_form.Row]] = []
    for gi, ri, row in rows:
        single = builder_form.Builder("all", [builder_form.Group("all", [row])])
        alone.append((f"Condition {ri + 1} of group {gi + 1}", segments.count(session, builder_form.to_rules(
            single, attributes)), row))  # fmt: skip
    none = [f"{where} matches no contact on its own{_held_words(session, row)}." for where, n, row in alone if not n]
    if none or len(alone) < 2:
        return none
    counts = "; ".join(f"{where.lower() if i else where}: {n:,}" for i, (where, n, _) in enumerate(alone))
    together = "all of them at once" if len(builder.groups) == 1 else "the groups as they are combined"
    return [f"Each condition matches contacts on its own ({counts}), but no contact meets {together}."]
