"""Finding contacts by name, e-mail or number with filters (``contacts.search``), on SQLite and
PostgreSQL: encrypted names are scanned a bounded number at a time and the page says how far."""

from __future__ import annotations

import pytest

from contacts import consent
from contacts.search import Filters, search
from core import db
from core.errors import ValidationFailed
from tests.contacts.helpers import create_contact


def test_names_are_scanned_a_bounded_number_at_a_time(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        made = [create_contact(session, n, first_name="Léa" if n in (3, 5) else "Paul").id for n in range(1, 7)]
        first = search(session, text="LEA", limit=50, scan_limit=4)
        assert [c.id for c in first.contacts] == [made[2]] and first.scanned_to == made[3]
        rest = search(session, text="lea", after_id=first.next_after_id or 0, limit=50, scan_limit=4)
        assert [c.id for c in rest.contacts] == [made[4]] and rest.next_after_id is None and rest.scanned_to is None
        full = search(session, text="paul", limit=2)
        assert len(full.contacts) == 2 and full.next_after_id == made[1] and full.scanned_to is None


def test_numbers_emails_and_filters(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        zoe = create_contact(session, 1, first_name="Zoé", name="Martin", language="fr", tags=["vip"])
        attributes = {"email": "zoe.martin@example.fr"}
        zoe.attributes = attributes
        consent.record_opt_in(session, contact=zoe, source="form", proof="form")
        ben = create_contact(session, 2, first_name="Ben", language="en")
        assert [c.id for c in search(session, text="06 00 00 00 02", region="FR").contacts] == [ben.id]
        assert [c.id for c in search(session, text="+33600000001").contacts] == [zoe.id]
        assert search(session, text="+99 1234567").contacts == []  # not a number: nobody, no error
        assert [c.id for c in search(session, text="martin@example").contacts] == [zoe.id]
        assert [c.id for c in search(session, filters=Filters(consent="opted_in", language="FR")).contacts] == [zoe.id]
        assert [c.id for c in search(session, filters=Filters(tag="vip", country="fr")).contacts] == [zoe.id]
        assert search(session, text="ben", filters=Filters(consent="opted_in")).contacts == []
        with pytest.raises(ValidationFailed):
            search(session, filters=Filters(consent="maybe"))
