"""Filling ``Contact.line_type`` for contacts stored before it existed (migration 0018).

The numbers are encrypted and their class comes from ``channels.phone``, so the fill runs in Python after
the migration (``relais migrate`` and ``relais run`` call :func:`fill_missing`), not in it. It only reads
rows whose line type is NULL (a partial index holds just those), so running it again costs one index
look-up and changes nothing; until a
row is filled it counts as textable (``contacts.consent.consent_verdicts``), as before the column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from contacts.models import Contact
from contacts.service import line_type_of

#: the ids among those given whose number texted us (they are textable whatever the plan says)
TextedIn = Callable[[Session, list[int]], Iterable[int]]
BATCH = 1000


def fill_batch(session: Session, *, texted_in: TextedIn, batch: int = BATCH) -> int:
    """Fill the line type of up to ``batch`` contacts that have a number and none; returns how many.

    ``updated_at`` is kept: the contact did not change, its row learnt a fact about its number.
    """
    rows = session.execute(
        select(Contact.id, Contact.phone)
        .where(Contact.line_type.is_(None), Contact.phone.is_not(None))
        .order_by(Contact.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0
    wrote = set(texted_in(session, [row.id for row in rows]))
    values = [{"cid": row.id, "kind": line_type_of(str(row.phone), texted_in=row.id in wrote)} for row in rows]
    table = cast(Table, Contact.__table__)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("cid"))
        .values(line_type=bindparam("kind"), updated_at=table.c.updated_at),
        values,
    )
    session.flush()
    return len(rows)


def fill_missing(scope: Callable[[], AbstractContextManager[Session]], *, texted_in: TextedIn) -> int:
    """Fill every contact's missing line type, one transaction per batch (``scope``, such as
    ``core.db.session_scope``, commits it); returns how many.

    Idempotent: a second run finds nothing to fill. Erased contacts (no number) are left NULL.
    """
    total = 0
    while True:
        with scope() as session:
            done = fill_batch(session, texted_in=texted_in)
        if not done:
            return total
        total += done
