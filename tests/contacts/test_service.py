"""``get_or_create_by_phone`` when another transaction creates the same number at the same time."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from contacts.models import Contact
from contacts.service import get_or_create_by_phone
from core import db
from core.settings import Settings

PHONE = "+33612345601"


def test_a_concurrent_creation_of_the_same_number_returns_the_first_contact(runtime_any_db: Settings) -> None:
    first = db.new_session()
    found: list[tuple[int, bool]] = []

    def second() -> None:
        with db.session_scope() as session:
            contact, created = get_or_create_by_phone(session, phone_e164=PHONE, country="FR")
            found.append((contact.id, created))

    try:
        winner, created = get_or_create_by_phone(first, phone_e164=PHONE, country="FR")
        assert created
        racer = threading.Thread(target=second)
        racer.start()
        time.sleep(0.5)  # the racer looks the number up (nothing committed), then waits on its insert
        assert racer.is_alive()
        first.commit()
    finally:
        first.close()
    racer.join(30)
    assert found == [(winner.id, False)]
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
