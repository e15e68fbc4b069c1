"""CSV export of contacts, streamed: rows are read in batches and yielded as text chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts.models import Contact
from core.spreadsheet import neutralise

COLUMNS = (
    "id",
    "phone",
    "name",
    "first_name",
    "language",
    "timezone",
    "country",
    "tags",
    "consent_status",
    "opted_out",
    "created_at",
    "line_type",
)
CHUNK = 1000


def export_csv(session: Session, ids: Select[int] | None = None) -> Iterator[str]:
    """CSV text chunks (header first) of the contacts whose ids ``ids`` selects (all, if ``None``).

    Erased contacts are never exported. One column per declared attribute follows the fixed ones.
    Memory holds one batch of 1,000 contacts at a time. The file imports back as it is
    (``contacts.import_mapping``): ``consent_status`` feeds the consent, the columns Relais works out
    itself (``id``, ``opted_out``, ``created_at``, ``line_type``) are left out with a note.
    """
    names = sorted(attrs.schema(session))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*COLUMNS, *names])
    stmt = select(Contact).where(Contact.erased.is_(False)).order_by(Contact.id)
    if ids is not None:
        stmt = stmt.where(Contact.id.in_(ids.order_by(None).scalar_subquery()))
    for contact in session.scalars(stmt.execution_options(yield_per=CHUNK)):
        writer.writerow(_row(contact, names))
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _row(contact: Contact, names: list[str]) -> list[Any]:
    values = contact.attributes or {}
    return [
        contact.id,
        contact.phone,  # E.164 starts with "+", which is why phone is not passed through neutralise
        neutralise(contact.name or ""),
        neutralise(contact.first_name or ""),
        contact.language or "",
        contact.timezone or "",
        contact.country,
        neutralise(";".join(contact.tags or [])),
        contact.consent_status,
        "true" if contact.opted_out else "false",
        contact.created_at.isoformat(),
        contact.line_type or "",  # mobile, fixed_line, voip…; empty until worked out (``contacts.line_types``)
        *("" if values.get(n) is None else neutralise(values[n]) for n in names),
    ]
