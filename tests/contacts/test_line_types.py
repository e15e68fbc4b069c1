"""Contacts stored before ``contacts.line_type`` (migration 0018) get their line type filled after the migration.

The numbers are encrypted, so ``relais migrate`` / ``relais run`` fill it in Python (``cli.server.fill_line_types``):
a landline becomes ``fixed_line`` and is then refused, a landline that texted us stays textable, an erased
contact has no number to read, and a second run changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

from cli.server import fill_line_types
from contacts import service
from contacts.consent import consent_verdicts
from contacts.line_types import fill_batch
from contacts.models import Contact
from contacts.service import get_or_create_by_phone, get_or_create_many_by_phone
from conversations.models import Message
from core import crypto, db
from core.schema import migrate
from core.settings import Settings
from tests.core.migration_helpers import emptied, restore_postgres
from tests.handoff.factories import create_conversation

INSERT_CONTACT = (
    "INSERT INTO contacts (phone, phone_index, country, attributes, tags, opted_out, consent_status, external_ids,"
    " erased, created_at, updated_at) VALUES (:phone, :index, 'FR', :attributes, '[]', :no, 'opted_in', '{}', :erased,"
    " :now, :now)"
)
TEXTED_IN = "+33142720001"
NUMBERS = {"texted_in": TEXTED_IN, "landline": "+33142720000", "mobile": "+33612345678", "erased": None}


def test_existing_contacts_get_their_line_type_once(runtime_any_db: Settings) -> None:
    url = runtime_any_db.resolved_database_url
    engine = emptied()
    migrate(url, "0017")
    then = db.utcnow().replace(microsecond=0)
    with engine.begin() as conn:
        for phone in NUMBERS.values():
            stored = (crypto.encrypt(phone), crypto.blind_index(phone)) if phone else (None, None)
            conn.execute(sa.text(INSERT_CONTACT), {"phone": stored[0], "index": stored[1], "no": False,
                                                   "attributes": crypto.encrypt("{}"), "erased": phone is None,
                                                   "now": then})
    migrate(url)
    with db.session_scope() as session:
        conversation = create_conversation(session, TEXTED_IN)
        session.add(Message(contact_id=conversation.contact_id, conversation_id=conversation.id, direction="in",
                            body="bonjour", status="received", author_type="customer", lane="conversational"))
        ids = dict(zip(NUMBERS, session.scalars(sa.select(Contact.id).order_by(Contact.id)), strict=True))
        assert consent_verdicts(session, ids.values(), "transactional") == {ids["erased"]: "erased"}

    fill_line_types()
    with db.session_scope() as session:
        found = {name: session.get_one(Contact, cid) for name, cid in ids.items()}
        assert {name: c.line_type for name, c in found.items()} == {
            "texted_in": "unknown", "landline": "fixed_line", "mobile": "mobile", "erased": None}
        assert all(c.updated_at.replace(tzinfo=None) == then.replace(tzinfo=None) for c in found.values())
        assert consent_verdicts(session, ids.values(), "transactional") == {
            ids["landline"]: "invalid_number", ids["erased"]: "erased"}
        assert fill_batch(session, texted_in=lambda _session, _ids: set()) == 0  # nothing left: a re-run is a no-op
    restore_postgres(url, engine)


def test_new_contacts_record_their_line_type_and_a_number_that_texted_in_stays_textable(
    runtime_any_db: Settings,
) -> None:
    with db.session_scope() as session:
        sent_to, _ = get_or_create_by_phone(session, phone_e164="+33142720002")  # an API send to a new number
        texted = get_or_create_many_by_phone(session, {"+33142720003": ("FR", None), "+33612345679": ("FR", None)})
        created = service.create(session, phone="05 56 00 00 00", region="FR")
        assert (sent_to.line_type, created.line_type) == ("fixed_line", "fixed_line")
        assert {phone: c.line_type for phone, c in texted.items()} == {"+33142720003": "unknown",
                                                                       "+33612345679": "mobile"}
        everyone = [sent_to.id, created.id, *(c.id for c in texted.values())]
        refused = consent_verdicts(session, everyone, "transactional")
        assert refused == {sent_to.id: "invalid_number", created.id: "invalid_number"}


def test_a_landline_that_texts_in_gets_its_replies_on_either_inbound_path(runtime_any_db: Settings) -> None:
    """A landline imported with a warning, then texting us (landline SMS services exist), proved it takes
    texts: on the old code the reply to it was refused as ``invalid_number``, and the single-event path
    (a joined multi-part text) stored a new landline as ``fixed_line``."""
    from datetime import UTC, datetime

    from channels.base import InboundMessage
    from conversations import flows

    def text(number: str, ref: str) -> InboundMessage:
        return InboundMessage(provider="vonage-sms", provider_message_id=ref, from_=number, to="+33612000000",
                              text="bonjour, vous avez des bougies ?", received_at=datetime.now(UTC))

    with db.session_scope() as session:
        imported, _ = get_or_create_by_phone(session, phone_e164="+33142720004")  # stored as a landline
        batch_known, _ = get_or_create_by_phone(session, phone_e164="+33142720005")
        assert (imported.line_type, batch_known.line_type) == ("fixed_line", "fixed_line")
        single = flows.persist_inbound(session, inbound=text("+33142720004", "L1"), provider="vonage",
                                       queue_analysis=False)
        fresh = flows.persist_inbound(session, inbound=text("+33142720006", "L2"), provider="vonage",
                                      queue_analysis=False)
        batch = get_or_create_many_by_phone(session, {"+33142720005": ("FR", None)})
        assert single is not None and fresh is not None
        ids = [imported.id, fresh.contact_id, batch["+33142720005"].id]
        assert [session.get_one(Contact, i).line_type for i in ids] == ["unknown"] * 3
        assert consent_verdicts(session, ids, "transactional") == {}
