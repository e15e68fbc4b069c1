"""Typed custom attributes: the per-deployment schema, value coercion and the segmentable index.

Attribute values live encrypted in ``Contact.attributes`` (a JSON object). Values of attributes
declared ``segmentable`` are also written, typed and in plaintext, to ``contact_attribute_values``
so segment rules compile to SQL. Dates are stored in the JSON as ISO ``YYYY-MM-DD`` strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from contacts.models import ATTRIBUTE_TYPES, AttributeDefinition, AttributeValue, Contact
from contacts.personal_values import personal_kind
from contacts.segments import reading_attribute
from core.errors import Conflict, NotFound, ValidationFailed
from core.settings import get_settings

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE = frozenset({"true", "yes", "y", "1", "oui", "si", "ja"})
_FALSE = frozenset({"false", "no", "n", "0", "non", "nein"})

Schema = dict[str, AttributeDefinition]


class BadAttributeValue(ValueError):
    """A value that does not fit its declared type; the message says why."""


def schema(session: Session) -> Schema:
    """Every declared attribute by name."""
    return {d.name: d for d in session.scalars(select(AttributeDefinition))}


def define(
    session: Session, *, name: str, type: str, segmentable: bool = False, description: str = ""
) -> AttributeDefinition:
    """Declare an attribute. Raises ``ValidationFailed`` (bad name/type) or ``Conflict`` (exists)."""
    if not _NAME.fullmatch(name):  # match() let "tier\n" through ("$" matches before a final newline)
        raise ValidationFailed(
            f"attribute name {name!r} must be lowercase letters, digits and _ (starting with a letter)",
            errors=[{"field": "name"}],
        )
    if type not in ATTRIBUTE_TYPES:
        raise ValidationFailed(
            f"attribute type {type!r} is not one of {', '.join(ATTRIBUTE_TYPES)}", errors=[{"field": "type"}]
        )
    if session.scalar(select(AttributeDefinition).where(AttributeDefinition.name == name)) is not None:
        raise Conflict(f"attribute {name!r} already exists")
    definition = AttributeDefinition(name=name, type=type, segmentable=segmentable, description=description)
    session.add(definition)
    session.flush()
    if segmentable:
        backfill(session, definition)
    return definition


def backfill(session: Session, definition: AttributeDefinition) -> int:
    """Index values already held under this name (kept by contacts when it was undefined before).

    Streams contacts in batches (their attributes must be decrypted to be read); values that do
    not fit the declared type stay in the encrypted JSON but are not indexed. Returns rows indexed.

    Raises:
        ValidationFailed: a contact holds an e-mail address or a phone number under the name (field
            ``segmentable``): it would be copied in plaintext (``contacts.personal_values``).
    """
    session.execute(delete(AttributeValue).where(AttributeValue.name == definition.name))
    rows: list[dict[str, Any]] = []
    indexed = 0
    region = get_settings().default_region
    stmt = (
        select(Contact.id, Contact.attributes)
        .where(Contact.erased.is_(False))
        .execution_options(yield_per=1000)
    )
    for contact_id, values in session.execute(stmt):
        raw = (values or {}).get(definition.name)
        try:
            value = coerce(definition.type, raw)
        except BadAttributeValue:
            continue
        kind = personal_kind(value, region=region)
        if kind:  # a contact's address or number would be copied in clear
            raise ValidationFailed(
                f"contacts hold {kind} under “{definition.name}”: a segmentable attribute is stored in plaintext to "
                "filter on, and personal contact data stays encrypted; keep it not segmentable",
                errors=[{"field": "segmentable", "reason": "personal_data"}],
            )
        if value is not None:
            rows.append(index_row(contact_id, definition, value))
            indexed += 1
        if len(rows) >= 1000:
            session.execute(insert(AttributeValue), rows)
            rows = []
    if rows:
        session.execute(insert(AttributeValue), rows)
    return indexed


def get(session: Session, name: str) -> AttributeDefinition:
    """The declaration called ``name``; raises ``NotFound``."""
    definition = session.scalar(select(AttributeDefinition).where(AttributeDefinition.name == name))
    if definition is None:
        raise NotFound(f"attribute {name!r} is not defined")
    return definition


def _segments_in_the_way(session: Session, name: str, change: str) -> None:
    """Refuse ``change`` while saved segments filter on ``name``: their rules would stop compiling."""
    users = reading_attribute(session, name)
    if users:
        named = ", ".join(f"“{s.name}” (#{s.id})" for s in users)
        raise Conflict(f"attribute {name!r} is used by the segment{'s' if len(users) > 1 else ''} {named}: "
                       f"change {'their' if len(users) > 1 else 'its'} rules before you {change}")


def update(session: Session, *, name: str, description: str | None = None, segmentable: bool | None = None,
           type: str | None = None) -> AttributeDefinition:
    """Change a declaration's description (its label), whether it is segmentable, or its type.

    Turning segmentable on indexes the values contacts hold; off drops the index. Its type or
    segmentable off is refused while a saved segment filters on it (``Conflict`` naming them);
    values that do not fit a new type stay in contacts' encrypted attributes but are not indexed.
    Raises ``NotFound``, ``ValidationFailed`` (unknown type) or ``Conflict``.
    """
    definition = get(session, name)
    was_indexed, retyped = definition.segmentable, False
    if type is not None and type != definition.type:
        retyped = True
        if type not in ATTRIBUTE_TYPES:
            raise ValidationFailed(f"attribute type {type!r} is not one of {', '.join(ATTRIBUTE_TYPES)}",
                                   errors=[{"field": "type"}])
        _segments_in_the_way(session, name, "change its type")
        definition.type = type
    if segmentable is False and definition.segmentable:
        _segments_in_the_way(session, name, "stop segmenting on it")
    if description is not None:
        definition.description = description
    if segmentable is not None:
        definition.segmentable = segmentable
    session.flush()
    if definition.segmentable and (retyped or not was_indexed):
        backfill(session, definition)  # values typed as the declaration now says
    elif was_indexed and not definition.segmentable:
        session.execute(delete(AttributeValue).where(AttributeValue.name == name))
    return definition


def undefine(session: Session, *, name: str) -> None:
    """Remove a declaration and its index; values stay in contacts' attributes until rewritten.

    Raises ``NotFound``, or ``Conflict`` while a saved segment filters on it (templates reading it are
    checked by ``campaigns.service.undefine_attribute``, which the API and console call).
    """
    definition = get(session, name)
    _segments_in_the_way(session, name, "delete it")
    session.execute(delete(AttributeValue).where(AttributeValue.name == name))
    session.delete(definition)
    session.flush()


def coerce(type_: str, raw: Any) -> Any:
    """``raw`` (typed, or text from a file) as a JSON value of ``type_``; ``None`` for empty.

    Raises:
        BadAttributeValue: the value does not fit the type.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if type_ == "string":
        if isinstance(raw, dict | list):
            raise BadAttributeValue("expected text")
        return str(raw).strip()
    if type_ == "number":
        if isinstance(raw, bool):
            raise BadAttributeValue("expected a number")
        if isinstance(raw, int | float):
            value = float(raw)
        else:
            try:
                value = float(str(raw).strip())
            except ValueError:
                raise BadAttributeValue(f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise BadAttributeValue(f"{raw!r} is not a finite number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if type_ == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise BadAttributeValue(f"{raw!r} is not a boolean (true/false, yes/no, 1/0)")
    if type_ == "date":
        if isinstance(raw, date):
            return raw.isoformat()[:10]
        try:
            return date.fromisoformat(str(raw).strip()[:10]).isoformat()
        except ValueError:
            raise BadAttributeValue(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    raise BadAttributeValue(f"unknown attribute type {type_!r}")


def validate(known: Mapping[str, AttributeDefinition], values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce every value against the schema; ``None`` values mean "remove".

    Raises:
        ValidationFailed: unknown attributes or values of the wrong type, one error per attribute.
    """
    out: dict[str, Any] = {}
    errors = []
    for name, raw in values.items():
        definition = known.get(name)
        if definition is None:
            errors.append({"field": f"attributes.{name}", "message": "unknown attribute; define it first"})
            continue
        try:
            out[name] = coerce(definition.type, raw)
        except BadAttributeValue as exc:
            errors.append({"field": f"attributes.{name}", "message": str(exc)})
            continue
        kind = personal_kind(out[name], region=get_settings().default_region) if definition.segmentable else None
        if kind:
            errors.append({"field": f"attributes.{name}", "message": f"this looks like {kind}: a segmentable "
                           "attribute is stored in plaintext to filter on, and personal contact data stays encrypted "
                           f"(declare “{name}” not segmentable to keep it)"})  # fmt: skip
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return out


def merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` updated with ``changes`` (validated values; ``None`` removes the key)."""
    out = dict(current)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def index_row(contact_id: int, definition: AttributeDefinition, value: Any) -> dict[str, Any]:
    """The ``contact_attribute_values`` row for a validated value."""
    row: dict[str, Any] = {
        "contact_id": contact_id,
        "name": definition.name,
        "value_text": None,
        "value_number": None,
        "value_bool": None,
        "value_date": None,
    }
    if definition.type == "string":
        row["value_text"] = str(value)[:500]
    elif definition.type == "number":
        row["value_number"] = float(value)
    elif definition.type == "boolean":
        row["value_bool"] = bool(value)
    else:
        row["value_date"] = date.fromisoformat(value)
    return row


def index_rows(
    contact_id: int, known: Mapping[str, AttributeDefinition], values: Mapping[str, Any]
) -> list[dict]:
    return [
        index_row(contact_id, known[name], value)
        for name, value in values.items()
        if name in known and known[name].segmentable and value is not None
    ]


def reindex(session: Session, contact: Contact, known: Mapping[str, AttributeDefinition]) -> None:
    """Rewrite the segmentable index of one contact from its (decrypted) attributes."""
    session.execute(delete(AttributeValue).where(AttributeValue.contact_id == contact.id))
    rows = index_rows(contact.id, known, contact.attributes or {})
    if rows:
        session.execute(insert(AttributeValue), rows)
