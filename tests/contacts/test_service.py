"""``get_or_create_by_phone`` (and its batch form) when another transaction creates the same number at the same time."""

from __future__ import annotations

import threading
import time

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState

from contacts.models import Contact
from contacts.service import get_or_create_by_phone, get_or_create_many_by_phone
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


def test_many_numbers_at_once_when_another_transaction_adds_one_of_them(runtime_any_db: Settings) -> None:
    """``get_or_create_many_by_phone`` (the inbound batch): the known read in one statement, the new
    inserted in one; a number committed by another transaction between the two is not duplicated."""
    known, new, raced = "+33612345610", "+33612345611", "+33612345612"
    with db.session_scope() as session:
        existing, _ = get_or_create_by_phone(session, phone_e164=known)
    racer: list[int] = []

    def add_raced(state: ORMExecuteState) -> None:
        # the batch has read the numbers and is about to insert the missing ones
        if state.is_insert and not racer:
            with db.session_scope() as other:
                racer.append(get_or_create_by_phone(other, phone_e164=raced, country="FR")[0].id)

    with db.session_scope() as session:
        event.listen(session, "do_orm_execute", add_raced)
        contacts = get_or_create_many_by_phone(session, {known: ("FR", None), new: ("FR", None), raced: ("FR", None)})
        event.remove(session, "do_orm_execute", add_raced)
        assert contacts[known].id == existing.id and contacts[raced].id == racer[0]
        assert contacts[new].id not in (existing.id, racer[0]) and contacts[new].timezone == "Europe/Paris"
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 3
