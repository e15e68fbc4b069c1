"""Segments: JSON rules compiled to one SQL query over contacts (no Python-side filtering).

Grammar::

    rules     := group
    group     := {"all": [node, ...]} | {"any": [node, ...]} | {"not": node}
    node      := group | condition
    condition := {"field": F, "op": OP, "value": V, ...}

Fields and operators:

- ``tag``: ``has`` / ``not_has`` (value: a tag)
- ``list``: ``member`` / ``not_member`` (value: a list id)
- ``language``, ``country``, ``timezone``: ``eq`` / ``neq`` / ``in`` / ``not_in`` / ``exists`` / ``missing``
- ``consent``: ``eq`` / ``neq`` / ``in`` over ``none``, ``pending``, ``opted_in``, ``opted_out``
- ``attribute`` (with ``"name"``): only attributes declared ``segmentable`` (their typed values are
  indexed in plaintext; the encrypted JSON cannot be filtered in SQL). The value's JSON type picks
  the column: ``eq`` / ``neq`` / ``in`` / ``contains`` / ``starts_with`` for text, ``eq`` / ``neq`` /
  ``gt`` / ``gte`` / ``lt`` / ``lte`` for numbers, ``eq`` for booleans, ``before`` / ``after`` /
  ``on`` (ISO date) and ``within_days`` / ``older_than_days`` for dates, ``exists`` / ``missing``.
- ``engagement`` (with ``"kind"``: clicked / replied / purchased / delivered): ``within_days``
  (value N: at least once in the last N days) or ``not_within_days``.
- ``created``: ``within_days`` / ``older_than_days``.
- ``prediction`` (with ``"kind"``, one of ``contacts.models.PREDICTION_KINDS``): ``gt`` / ``gte`` /
  ``lt`` / ``lte`` (value: a number, e.g. ``purchase_90d`` ``gt`` 0.6) or ``top_percent`` (value N:
  among the N % highest of that kind, from the percentile the scoring job stores). A contact with
  no prediction of that kind never matches (:func:`count_without` says how many that leaves out).

Erased contacts never match. Consent is *not* applied implicitly: campaigns still check
``contacts.consent.blocked_contact_ids`` at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from contacts.models import (
    CONSENT_STATES,
    ENGAGEMENT_KINDS,
    PREDICTION_KINDS,
    AttributeDefinition,
    AttributeValue,
    Contact,
    ContactTag,
    EngagementEvent,
    ListMembership,
    Prediction,
    Segment,
)
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed

MAX_DEPTH = 6
MAX_CONDITIONS = 100
_COLUMN_FIELDS = {"language": Contact.language, "country": Contact.country, "timezone": Contact.timezone}


class _Compiler:
    def __init__(self, segmentable: Mapping[str, str] | None, unknown: str | None = None) -> None:
        self.segmentable = segmentable
        self.count = 0
        self.unknown = unknown  # a prediction kind read as "may hold" for contacts who have none of it
        self.positive = True  # False inside an odd number of "not"s

    def fail(self, path: str, message: str) -> ValidationFailed:
        return ValidationFailed(
            f"segment rules {path}: {message}", errors=[{"field": path, "message": message}]
        )

    def node(self, node: Any, path: str, depth: int) -> ColumnElement[bool]:
        if not isinstance(node, Mapping):
            raise self.fail(path, "expected an object")
        if depth > MAX_DEPTH:
            raise self.fail(path, f"groups nest deeper than {MAX_DEPTH}")
        if "field" in node:
            self.count += 1
            if self.count > MAX_CONDITIONS:
                raise self.fail(path, f"more than {MAX_CONDITIONS} conditions")
            return self.condition(node, path)
        keys = set(node) & {"all", "any", "not"}
        if len(keys) != 1:
            raise self.fail(path, "a group has exactly one of 'all', 'any', 'not'")
        key = keys.pop()
        if key == "not":
            self.positive = not self.positive
            try:
                return not_(self.node(node["not"], f"{path}.not", depth + 1))
            finally:
                self.positive = not self.positive
        items = node[key]
        if not isinstance(items, list):
            raise self.fail(f"{path}.{key}", "expected a list")
        parts = [self.node(item, f"{path}.{key}[{i}]", depth + 1) for i, item in enumerate(items)]
        if not parts:
            return true() if key == "all" else false()
        return and_(*parts) if key == "all" else or_(*parts)

    def condition(self, cond: Mapping[str, Any], path: str) -> ColumnElement[bool]:
        field, op, value = cond.get("field"), cond.get("op"), cond.get("value")
        if field == "tag":
            has = exists().where(
                ContactTag.contact_id == Contact.id, ContactTag.tag == _text(self, value, path)
            )
            return self.choose(op, path, {"has": has, "not_has": ~has})
        if field == "list":
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(path, "value must be a list id")
            member = exists().where(ListMembership.contact_id == Contact.id, ListMembership.list_id == value)
            return self.choose(op, path, {"member": member, "not_member": ~member})
        if field in _COLUMN_FIELDS:
            return self.column(_COLUMN_FIELDS[field], op, value, path, upper=field == "country")
        if field == "consent":
            values = value if isinstance(value, list) else [value]
            if not values or any(v not in CONSENT_STATES for v in values):
                raise self.fail(path, f"consent values are {', '.join(CONSENT_STATES)}")
            return self.column(Contact.consent_status, op, value, path)
        if field == "attribute":
            return self.attribute(cond, path)
        if field == "engagement":
            kind = cond.get("kind")
            if kind not in ENGAGEMENT_KINDS:
                raise self.fail(path, f"engagement kind must be one of {', '.join(ENGAGEMENT_KINDS)}")
            since = utcnow() - timedelta(days=_days(self, value, path))
            seen = exists().where(
                EngagementEvent.contact_id == Contact.id,
                EngagementEvent.kind == kind,
                EngagementEvent.at >= since,
            )
            return self.choose(op, path, {"within_days": seen, "not_within_days": ~seen})
        if field == "prediction":
            return self.prediction(cond, path)
        if field == "created":
            since = utcnow() - timedelta(days=_days(self, value, path))
            return self.choose(
                op,
                path,
                {"within_days": Contact.created_at >= since, "older_than_days": Contact.created_at < since},
            )
        raise self.fail(path, f"unknown field {field!r}")

    def choose(self, op: Any, path: str, options: dict[str, ColumnElement[bool]]) -> ColumnElement[bool]:
        if op not in options:
            raise self.fail(path, f"operator must be one of {', '.join(options)}")
        return options[op]

    def column(self, col: Any, op: Any, value: Any, path: str, upper: bool = False) -> ColumnElement[bool]:
        if op in ("exists", "missing"):
            present = and_(col.is_not(None), col != "")
            return present if op == "exists" else ~present
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise self.fail(path, "value must be a non-empty list of strings")
            values = [v.upper() if upper else v for v in value]
            return col.in_(values) if op == "in" else or_(col.is_(None), col.not_in(values))
        text = _text(self, value, path)
        text = text.upper() if upper else text
        return self.choose(op, path, {"eq": col == text, "neq": or_(col.is_(None), col != text)})

    def attribute(self, cond: Mapping[str, Any], path: str) -> ColumnElement[bool]:
        name, op, value = cond.get("name"), cond.get("op"), cond.get("value")
        if not isinstance(name, str):
            raise self.fail(path, "an attribute condition needs a 'name'")
        if self.segmentable is not None and name not in self.segmentable:
            raise self.fail(path, f"attribute {name!r} is not declared segmentable")
        row = exists().where(AttributeValue.contact_id == Contact.id, AttributeValue.name == name)
        if op in ("exists", "missing"):
            return row if op == "exists" else ~row
        declared = self.segmentable.get(name) if self.segmentable is not None else None
        if op in ("before", "after", "on", "within_days", "older_than_days") or declared == "date":
            return row.where(self.date_test(op, value, path))
        if isinstance(value, bool):
            return row.where(self.choose(op, path, {"eq": AttributeValue.value_bool.is_(value)}))
        if isinstance(value, int | float):
            col = AttributeValue.value_number
            tests = {
                "eq": col == value,
                "gt": col > value,
                "gte": col >= value,
                "lt": col < value,
                "lte": col <= value,
            }
            if op == "neq":
                return ~row.where(col == value)
            return row.where(self.choose(op, path, tests))
        col_text = AttributeValue.value_text
        if op == "in":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(path, "value must be a list of strings")
            return row.where(col_text.in_(value))
        text = _text(self, value, path)
        if op == "neq":
            return ~row.where(col_text == text)
        tests = {
            "eq": col_text == text,
            "contains": func.lower(col_text).contains(text.lower(), autoescape=True),
            "starts_with": col_text.startswith(text, autoescape=True),
        }
        return row.where(self.choose(op, path, tests))

    def prediction(self, cond: Mapping[str, Any], path: str) -> ColumnElement[bool]:
        kind, op, value = cond.get("kind"), cond.get("op"), cond.get("value")
        if kind not in PREDICTION_KINDS:
            raise self.fail(path, f"prediction kind must be one of {', '.join(PREDICTION_KINDS)}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.fail(path, "value must be a number")
        row = exists().where(Prediction.contact_id == Contact.id, Prediction.kind == kind)
        if op == "top_percent":
            if not 0 < value <= 100:
                # "between 0 and 100" refused 0 in words that allow it
                raise self.fail(path, "value must be a share of the contacts above 0 and at most 100 (per cent): "
                                      "10 keeps the top 10 %")
            held = row.where(Prediction.detail["percentile"].as_float() > 100 - value)
        else:
            col = Prediction.value
            tests = {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value}
            held = row.where(self.choose(op, path, tests))
        if kind == self.unknown and self.positive:  # inside a "not", holding none already counts for the contact
            return or_(held, ~exists().where(Prediction.contact_id == Contact.id, Prediction.kind == kind))
        return held

    def date_test(self, op: Any, value: Any, path: str) -> ColumnElement[bool]:
        col = AttributeValue.value_date
        if op in ("within_days", "older_than_days"):
            since = date.today() - timedelta(days=_days(self, value, path))
            return col >= since if op == "within_days" else col < since
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise self.fail(path, "value must be a date YYYY-MM-DD") from None
        return self.choose(
            op, path, {"before": col < day, "after": col > day, "on": col == day, "eq": col == day}
        )


def _text(compiler: _Compiler, value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise compiler.fail(path, "value must be a non-empty string")
    return value


def _days(compiler: _Compiler, value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 3650:
        raise compiler.fail(path, "value must be a number of days between 1 and 3650")
    return value


def compile_segment(rules: Mapping[str, Any], *, segmentable: Mapping[str, str] | None = None) -> Select[int]:
    """A ``SELECT contacts.id`` matching ``rules`` (erased contacts excluded), ordered by id.

    Args:
        rules: the JSON rules (grammar in the module docstring).
        segmentable: attribute name → type of the attributes declared segmentable; pass it (see
            :func:`segmentable_attributes`) to reject unknown attributes. ``None`` skips that check.

    Raises:
        ValidationFailed: malformed rules; ``errors[0].field`` is the JSON path of the problem.
    """
    where = _Compiler(segmentable).node(rules, "$", 0)
    return select(Contact.id).where(Contact.erased.is_(False), where).order_by(Contact.id)


def reads_attribute(rules: Mapping[str, Any] | list[Any] | Any, name: str) -> bool:
    """Whether ``rules`` (at any depth) has a condition on the attribute ``name``."""
    if isinstance(rules, list):
        return any(reads_attribute(rule, name) for rule in rules)
    if not isinstance(rules, Mapping):
        return False
    if rules.get("field") == "attribute" and rules.get("name") == name:
        return True
    return any(reads_attribute(value, name) for value in rules.values() if isinstance(value, list | Mapping))


def reading_attribute(session: Session, name: str) -> list[Segment]:
    """The saved segments with a condition on the attribute ``name`` (they stop counting without it)."""
    return [segment for segment in session.scalars(select(Segment).order_by(Segment.name))
            if reads_attribute(segment.rules, name)]


def segmentable_attributes(session: Session) -> dict[str, str]:
    stmt = select(AttributeDefinition.name, AttributeDefinition.type).where(
        AttributeDefinition.segmentable.is_(True)
    )
    return {name: type_ for name, type_ in session.execute(stmt)}


def validated(session: Session, rules: Mapping[str, Any]) -> Select[int]:
    """:func:`compile_segment` checked against this deployment's attribute schema."""
    return compile_segment(rules, segmentable=segmentable_attributes(session))


def count(session: Session, rules: Mapping[str, Any]) -> int:
    """How many contacts match ``rules`` right now (one ``COUNT`` query)."""
    stmt = validated(session, rules).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(stmt)) or 0)


def count_without(session: Session, rules: Mapping[str, Any], kind: str) -> int:
    """How many contacts ``rules`` leave out only because they hold no prediction of ``kind`` yet: those who would
    match were their missing prediction on the right side of each condition on it (a contact imported since the
    last scoring is left out of "chance to buy > 0.6" without a word otherwise). Two ``COUNT`` queries."""
    where = _Compiler(segmentable_attributes(session), unknown=kind).node(rules, "$", 0)
    maybe = select(func.count()).select_from(Contact).where(Contact.erased.is_(False), where)
    return int(session.scalar(maybe) or 0) - count(session, rules)


# -- saved segments ------------------------------------------------------------------------------


def create(session: Session, *, name: str, rules: dict[str, Any], description: str = "") -> Segment:
    """Save a segment after validating its rules. Raises ``ValidationFailed`` / ``Conflict``."""
    validated(session, rules)
    name = name.strip()
    if not name:
        raise ValidationFailed("segment name is empty", errors=[{"field": "name"}])
    if session.scalar(select(Segment.id).where(Segment.name == name)) is not None:
        raise Conflict(f"a segment named {name!r} exists")
    segment = Segment(name=name, rules=rules, description=description)
    session.add(segment)
    session.flush()
    return segment


def get(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id} not found")
    return segment


def update(
    session: Session,
    segment: Segment,
    *,
    name: str | None = None,
    rules: dict[str, Any] | None = None,
    description: str | None = None,
) -> None:
    if rules is not None:
        validated(session, rules)
        segment.rules = rules
    if name is not None and name.strip() != segment.name:
        if session.scalar(select(Segment.id).where(Segment.name == name.strip())) is not None:
            raise Conflict(f"a segment named {name!r} exists")
        segment.name = name.strip()
    if description is not None:
        segment.description = description
    session.flush()


def contact_ids(session: Session, segment_id: int) -> Select[int]:
    """The compiled query of a saved segment (campaigns stream it with ``yield_per``)."""
    return validated(session, get(session, segment_id).rules)
