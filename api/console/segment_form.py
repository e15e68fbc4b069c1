"""The segment builder's form and the JSON rules of ``contacts.segments``, both ways.

The builder shows groups of condition rows: inside a group the rows are joined by AND (``all``)
or OR (``any``), and the groups are joined the same way. That covers every rule set of depth two
(``{"all": [{"any": [...]}, ...]}``); deeper nesting or ``not`` (possible through the API) is
shown read-only. An operator that does not fit a row's field (after the field changed) becomes
the field's first one, so the live count and the re-drawn builder agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.console import country_code, language_code
from api.console.predictions_card import CHURN_BANDS
from contacts.models import CONSENT_STATES, ENGAGEMENT_KINDS, PREDICTION_KINDS
from core.errors import ValidationFailed
from intelligence.summary import AMOUNTS

JOINS = {"all": "all of (AND)", "any": "any of (OR)"}
FIELDS: dict[str, str] = {
    "consent": "Consent",
    "language": "Language",
    "country": "Country",
    "timezone": "Time zone",
    "tag": "Tag",
    "list": "List",
    "attribute": "Attribute",
    "engagement": "Engagement",
    "created": "Added",
    "prediction": "Prediction",
}
#: the kind select of a prediction row: short names (a phone's width), else PREDICTION_KINDS' meaning
_SHORT = {"purchase_90d": "Chance to buy in 90 days (0-1)", "churn_risk": "Churn risk (0-1)",
          "expected_spend": "Expected spend, 90 days", "clv": "Expected lifetime value",
          "next_purchase_days": "Days to next purchase", "best_hour": "Best hour to text (0-23)",
          "uplift": "Uplift if texted", "response": "Chance to respond (0-1)"}  # fmt: skip
PREDICTION_LABELS = {kind: _SHORT.get(kind, meaning.capitalize()) for kind, meaning in PREDICTION_KINDS.items()}
#: kinds stored as a probability (0-1): the contact page shows them as per cent, so "60" is a likely slip
PROBABILITY_KINDS = ("purchase_90d", "churn_risk", "response")
#: the value box's placeholder per kind: what a number means for it (not "a probability" for a spend)
PREDICTION_HINTS = {"purchase_90d": "0 to 1, e.g. 0.6",
                    # the contact page calls a risk "high" from this bound, and marketers ask for "churn risk high"
                    "churn_risk": f"0 to 1; high is {CHURN_BANDS[-1][0]:g} or more",
                    "expected_spend": "an amount, e.g. 100", "clv": "an amount, e.g. 500",
                    "next_purchase_days": "days, e.g. 30", "best_hour": "an hour, 0 to 23",
                    "uplift": "-1 to 1, e.g. 0.05", "response": "0 to 1, e.g. 0.1"}  # fmt: skip


def prediction_choices(currency: str) -> tuple[dict[str, str], dict[str, str]]:
    """The kind select's labels and the value box's hints, the amounts naming ``currency`` (the orders'):
    "Expected spend, 90 days" alone left a marketer guessing whether 100 meant euros or pounds."""
    if not currency:
        return PREDICTION_LABELS, PREDICTION_HINTS
    labels = {kind: f"{label} ({currency})" if kind in AMOUNTS else label
              for kind, label in PREDICTION_LABELS.items()}
    hints = {kind: hint.replace("an amount,", f"an amount in {currency},") if kind in AMOUNTS else hint
             for kind, hint in PREDICTION_HINTS.items()}
    return labels, hints
_TEXT_OPS = ("eq", "neq", "in", "not_in", "exists", "missing")
OPERATORS: dict[str, tuple[str, ...]] = {
    "consent": ("eq", "neq", "in"),
    "language": _TEXT_OPS,
    "country": _TEXT_OPS,
    "timezone": _TEXT_OPS,
    "tag": ("has", "not_has"),
    "list": ("member", "not_member"),
    "attribute": ("eq", "neq", "in", "contains", "starts_with", "gt", "gte", "lt", "lte", "before", "after", "on",
                  "within_days", "older_than_days", "exists", "missing"),
    "engagement": ("within_days", "not_within_days"),
    "created": ("within_days", "older_than_days"),
    "prediction": ("top_percent", "gt", "gte", "lt", "lte"),
}
OPERATOR_LABELS = {
    "eq": "is", "neq": "is not", "in": "is one of", "not_in": "is none of", "exists": "is set", "missing": "is not set",
    "has": "has", "not_has": "does not have", "member": "is a member of", "not_member": "is not a member of",
    "contains": "contains", "starts_with": "starts with", "gt": "is more than", "gte": "is at least",
    "lt": "is less than", "lte": "is at most", "before": "is before", "after": "is after", "on": "is on",
    "within_days": "within the last … days", "older_than_days": "more than … days ago",
    "not_within_days": "not within the last … days", "top_percent": "is in the top … %",
}  # fmt: skip
NO_VALUE = ("exists", "missing")
#: fields whose value a marketer may type as the pages name it ("French", "France") or as a code
_NAMED: dict[str, Callable[[str], str]] = {"language": language_code, "country": country_code}
_DAYS = ("within_days", "older_than_days", "not_within_days")


@dataclass
class Row:
    """One condition as typed: ``extra`` is the attribute's name, the engagement's or the prediction's kind."""

    field: str = "consent"
    op: str = "eq"
    value: str = "opted_in"  # a new row starts as the condition most marketing segments need
    extra: str = ""


@dataclass
class Group:
    join: str = "all"
    rows: list[Row] = field(default_factory=lambda: [Row()])


@dataclass
class Builder:
    join: str = "all"
    groups: list[Group] = field(default_factory=lambda: [Group()])


def _join(value: str) -> str:
    return value if value in JOINS else "all"


def from_form(form: Mapping[str, list[str]]) -> Builder:
    """The builder from posted lists: ``join``; per group ``group_join``; per row ``row_group``,
    ``field``, ``op``, ``value``, ``extra`` (one entry each, in order)."""
    joins = form.get("group_join", [])
    groups = [Group(_join(j), []) for j in joins] or [Group("all", [])]
    columns = [form.get(name, []) for name in ("row_group", "field", "op", "value", "extra")]
    for g, fld, op, value, extra in zip(*columns, strict=False):
        index = int(g) if g.isdigit() and int(g) < len(groups) else 0
        fld = fld if fld in FIELDS else "consent"
        op = op if op in OPERATORS[fld] else OPERATORS[fld][0]
        value = value.strip()
        if fld == "prediction":
            value = value.replace(",", ".")  # a French decimal comma: 0,6
        if fld == "prediction" and not _numeric(value):  # left from the row's previous field ("opted_in")
            value = ""
        if fld != "consent" and value in CONSENT_STATES:  # the same: "Language is opted_in" matched nobody
            value = ""
        groups[index].rows.append(Row(fld, op, value, extra.strip()))
    return Builder(_join((form.get("join") or ["all"])[0]), groups)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def where(path: str, builder: Builder | None = None) -> str:
    """A rule path in words, as the builder numbers its rows: ``groups[0].rows[1]`` (the builder's) or
    ``$.all[1]`` / ``$.all[0].any[1]`` (``contacts.segments``') → "Condition 2 of group 1"."""
    at = [int(n) for n in re.findall(r"\[(\d+)\]", path)]
    if path.startswith("$") and builder is not None and len(builder.groups) == 1:
        at = [0, *at]  # one group is compiled as the group itself
    if len(at) >= 2:
        return f"Condition {at[1] + 1} of group {at[0] + 1}"
    return f"Group {at[0] + 1}" if at else "The rules"


def explain(problem: ValidationFailed, builder: Builder) -> str:
    """The problem with the builder's rules in words, naming the row as the page does (never a JSON path)."""
    first = problem.errors[0] if problem.errors else {}
    path, message = str(first.get("field", "")), str(first.get("message", ""))
    if not message or not path.startswith(("$", "groups")):  # not about a rule (e.g. the name)
        return problem.detail
    return f"{where(path, builder)}: {message}"


def _refused(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{where(path)}: {message}", errors=[{"field": f"{path}.value", "message": message}])


def _number(text: str, path: str, *, whole: bool) -> int | float:
    try:
        return int(text) if whole else float(text) if "." in text else int(text)
    except ValueError:
        raise _refused(path, "enter a whole number" if whole else "enter a number") from None


def _chance(row: Row, value: int | float, path: str) -> None:
    """Refuse a chance typed as per cent ("60" for 60 %): it would silently match nobody; and a share of the top
    typed as a chance ("top … %" with 0.3, the builder's first operator for a prediction labelled "(0-1)"): it
    kept the top 0.3 % of contacts."""
    if row.op == "top_percent" and 0 < value < 1:
        instead = (f", or choose “is at least” for a chance of at least {value:g}"
                   if row.extra in PROBABILITY_KINDS else "")
        raise _refused(path, f"“is in the top … %” takes a share of the contacts in per cent: type {value * 100:g} "
                             f"for the top {value * 100:g} %{instead}")
    if row.op != "top_percent" and row.extra in PROBABILITY_KINDS and not 0 <= value <= 1:
        label = PREDICTION_LABELS[row.extra].removesuffix(" (0-1)")
        raise _refused(path, f"{label} goes from 0 to 1: type {value / 100:g} for {value:g} %"
                       if 1 < value <= 100 else f"{label} goes from 0 to 1, e.g. 0.6 for 60 %")


def _condition(row: Row, path: str, attributes: Mapping[str, str]) -> dict[str, Any]:
    cond: dict[str, Any] = {"field": row.field, "op": row.op}
    if row.field == "attribute":
        cond["name"] = row.extra
    if row.field == "engagement":
        cond["kind"] = row.extra or ENGAGEMENT_KINDS[0]
    if row.field == "prediction":
        cond["kind"] = row.extra if row.extra in PREDICTION_KINDS else next(iter(PREDICTION_KINDS))
    if row.op in NO_VALUE:
        return cond
    if row.op in ("in", "not_in"):
        coded = _NAMED.get(row.field, str.strip)
        cond["value"] = [coded(part) for part in row.value.split(",") if part.strip()]
    elif row.op in _DAYS or row.field == "list":
        cond["value"] = _number(row.value, path, whole=True)
    elif row.field == "prediction":
        cond["value"] = _number(row.value, path, whole=False)
        _chance(row, cond["value"], path)
    elif row.field == "attribute" and attributes.get(row.extra) == "number":
        cond["value"] = _number(row.value, path, whole=False)
    elif row.field == "attribute" and attributes.get(row.extra) == "boolean":
        cond["value"] = row.value.lower() in ("yes", "true", "1", "oui")
    elif row.field in _NAMED:  # "French" as the pages name it, or "fr": the rules hold the code
        cond["value"] = _NAMED[row.field](row.value)
    else:
        cond["value"] = row.value
    return cond


def to_rules(builder: Builder, attributes: Mapping[str, str]) -> dict[str, Any]:
    """The JSON rules (``contacts.segments`` validates them); ``attributes``: declared name → type.

    Raises:
        ValidationFailed: a number or day count that is not one (``field`` names the row).
    """
    groups = [
        {g.join: [_condition(r, f"groups[{gi}].rows[{ri}]", attributes) for ri, r in enumerate(g.rows)]}
        for gi, g in enumerate(builder.groups)
    ]
    return groups[0] if len(groups) == 1 else {builder.join: groups}


def _row(cond: Mapping[str, Any]) -> Row | None:
    fld, op = cond.get("field"), cond.get("op")
    if fld not in FIELDS or op not in OPERATORS[str(fld)]:
        return None
    value = cond.get("value", "")
    text = ", ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
    if isinstance(value, bool):
        text = "yes" if value else "no"
    return Row(str(fld), str(op), text, str(cond.get("name") or cond.get("kind") or ""))


def _group(node: Any) -> Group | None:
    if not isinstance(node, Mapping):
        return None
    if "field" in node:
        row = _row(node)
        return Group("all", [row]) if row else None
    keys = [k for k in ("all", "any") if k in node]
    if len(keys) != 1 or len(node) != 1 or not isinstance(node[keys[0]], list):
        return None
    rows = [_row(item) if isinstance(item, Mapping) and "field" in item else None for item in node[keys[0]]]
    if any(r is None for r in rows):
        return None
    return Group(keys[0], [r for r in rows if r is not None])


def from_rules(rules: Mapping[str, Any]) -> Builder | None:
    """The builder showing saved rules, or ``None`` when they are deeper than the builder draws."""
    single = _group(rules)
    if single is not None:
        return Builder("all", [single])
    keys = [k for k in ("all", "any") if k in rules]
    if len(keys) != 1 or len(rules) != 1 or not isinstance(rules[keys[0]], list):
        return None
    groups = [_group(item) for item in rules[keys[0]]]
    if not groups or any(g is None for g in groups):
        return None
    return Builder(keys[0], [g for g in groups if g is not None])


def apply(builder: Builder, action: str) -> Builder:
    """A structural change asked by a button: ``add-row:G``, ``remove-row:G:R``, ``add-group``, ``remove-group:G``."""
    kind, *where = action.split(":")
    at = [int(n) for n in where if n.isdigit()]
    if kind == "add-row" and at and at[0] < len(builder.groups):
        builder.groups[at[0]].rows.append(Row())
    elif kind == "remove-row" and len(at) == 2 and at[0] < len(builder.groups):
        rows = builder.groups[at[0]].rows
        if at[1] < len(rows):
            rows.pop(at[1])
        if not rows:
            builder.groups.pop(at[0])
    elif kind == "add-group":
        builder.groups.append(Group())
    elif kind == "remove-group" and at and at[0] < len(builder.groups):
        builder.groups.pop(at[0])
    if not builder.groups:
        builder.groups.append(Group())
    return builder

