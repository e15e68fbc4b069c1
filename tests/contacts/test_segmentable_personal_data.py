"""A segmentable attribute never stores an e-mail address or a phone number in plaintext.

Segmentable values are copied, typed and in plaintext, to ``contact_attribute_values`` so segments filter them
in SQL; every other value of a contact is encrypted. docs/contacts.md asked marketers to declare segmentable only
what is not personal data, and nothing held them to it: an attribute ``email`` declared segmentable put every
customer's address in clear in the database and its backups. Now such a value is refused where it is written
(API, import, CRM: one validation), and turning segmentable on over values that hold it is refused too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts import attributes as attrs
from contacts.models import AttributeValue
from contacts.service import get_or_create_by_phone
from core import db
from core.errors import ValidationFailed
from core.settings import Settings


def test_a_segmentable_value_that_is_an_email_or_a_phone_number_is_refused(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="contact_email", type="string", segmentable=True)
        attrs.define(session, name="store", type="string", segmentable=True)
        known = attrs.schema(session)
    for value, kind in (("ana.lima@example.com", "an e-mail address"), ("+33 6 12 34 56 78", "a phone number"),
                        ("06 12 34 56 78", "a phone number")):  # fmt: skip
        with pytest.raises(ValidationFailed, match=kind) as refused:
            attrs.validate(known, {"contact_email": value})
        assert refused.value.errors[0]["field"] == "attributes.contact_email"
    # what a segment is for still goes in: a store code, a customer number, a plan
    assert attrs.validate(known, {"store": "PAR-12"}) == {"store": "PAR-12"}
    assert attrs.validate(known, {"store": "100234"}) == {"store": "100234"}


def test_an_email_may_be_kept_encrypted_and_segmentable_cannot_be_turned_on_over_it(
    runtime_any_db: Settings,
) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="contact_email", type="string")
        known = attrs.schema(session)
        contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
        contact.attributes = attrs.validate(known, {"contact_email": "ana.lima@example.com"})  # encrypted: fine
    with pytest.raises(ValidationFailed, match="e-mail address") as refused, db.session_scope() as session:
        attrs.update(session, name="contact_email", segmentable=True)  # as the API's request: rolled back
    assert refused.value.errors[0]["field"] == "segmentable"
    with db.session_scope() as session:
        assert attrs.get(session, "contact_email").segmentable is False
        assert session.scalars(select(AttributeValue)).all() == []
