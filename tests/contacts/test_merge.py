"""Merging two records of one person: everything moves to the target, the stricter consent wins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts import consent, service
from contacts.merge import merge_contacts
from contacts.models import Contact
from conversations.models import Conversation, Message
from core import db
from core.errors import ValidationFailed
from tests.contacts.helpers import create_contact, phone


def test_merge_moves_messages_lists_ledger_and_keeps_the_opt_out(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        target = create_contact(session, 1, first_name="Ana", tags=["a"], attributes={})
        source = create_contact(session, 2, name="Ana Lima", language="pt", tags=["b"])
        shoes = service.create_list(session, name="shoes")
        service.add_to_lists(session, contact_ids=[source.id, target.id], list_ids=[shoes.id])
        consent.record_opt_out(session, contact=source, source="keyword", proof="STOP")
        service.record_engagement(session, contact_id=source.id, kind="replied")
        thread = Conversation(contact_id=source.id, sender="+33700000000")
        session.add(thread)
        session.flush()
        session.add(Message(conversation_id=thread.id, contact_id=source.id, direction="in", body="hello"))
        session.flush()
        moved = merge_contacts(session, target=target, source=source)
        target_id, source_id = target.id, source.id
    assert moved["messages"] == 1 and moved["conversations"] == 1 and moved["consent_events"] == 1
    with db.session_scope() as session:
        merged = service.get(session, target_id)
        assert session.get(Contact, source_id) is None
        assert (merged.name, merged.first_name, merged.language) == ("Ana Lima", "Ana", "pt")
        assert merged.tags == ["a", "b"] and merged.opted_out and merged.consent_status == "opted_out"
        assert len(service.list_ids_of(session, target_id)) == 1
        assert session.scalars(select(Message.contact_id)).all() == [target_id]
        assert [e.source for e in consent.history(session, merged)] == ["keyword"]
        # the merged-away number stays blocked if it ever comes back
        assert consent.is_suppressed(session, phone(2))


def test_merge_refuses_self_and_erased(runtime: object) -> None:
    with db.session_scope() as session:
        one, two = create_contact(session, 1), create_contact(session, 2)
        with pytest.raises(ValidationFailed):
            merge_contacts(session, target=one, source=one)
        two.erased = True
        with pytest.raises(ValidationFailed):
            merge_contacts(session, target=one, source=two)
