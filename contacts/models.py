"""Contacts: people Relais texts, their attributes, tags, lists, consent ledger and engagement.

Personal data (phone, names, attribute values, consent proof) is encrypted at rest. The phone number is
looked up through ``phone_index`` (a keyed HMAC blind index of the E.164 form, see
``core.crypto.blind_index``), never through its ciphertext.

What is stored in plaintext, on purpose, so segments compile to SQL: tags, list membership,
language, country, time zone, the number's line type (a class such as ``mobile``), consent state,
engagement events, and the typed values of attributes an administrator declared ``segmentable``
(``contact_attribute_values``) — declare only non-PII attributes segmentable.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.types import EncryptedJSON, EncryptedText

ATTRIBUTE_TYPES = ("string", "number", "boolean", "date")
CONSENT_STATES = ("none", "pending", "opted_in", "opted_out")
ENGAGEMENT_KINDS = ("clicked", "replied", "purchased", "delivered")


class Contact(Base):
    __tablename__ = "contacts"
    # the rows whose line type is still to be filled (``contacts.line_types``): empty once filled, so the
    # fill run at each start costs one look-up
    __table_args__ = (
        Index("ix_contacts_line_type_missing", "id", postgresql_where=text("line_type IS NULL"),
              sqlite_where=text("line_type IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # None once erased
    # None once erased: the tombstone lives in the suppression list and the consent ledger
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    country: Mapped[str] = mapped_column(String(2), default="")
    # the number's class in the numbering plan (``channels.phone.LineType``; not personal data): a landline
    # or another class in ``channels.phone.NO_SMS`` is never texted. ``None`` until filled for contacts
    # created before the column (``contacts.line_types.fill_missing``): texted meanwhile. A number that
    # texted us proved it takes texts: ``unknown`` when the plan says it cannot.
    line_type: Mapped[str | None] = mapped_column(String(24), nullable=True)
    name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    first_name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    # Denormalised copy of ``contact_tags`` for reading; segments query ``contact_tags``.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Denormalised from the consent ledger so send-time checks are one indexed read.
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    consent_status: Mapped[str] = mapped_column(String(12), default="none", index=True)
    # ids of this person in external systems, e.g. {"hubspot": "1234"} (not personal data)
    external_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AttributeDefinition(Base):
    """The per-deployment schema of custom attributes; writes are validated against it."""

    __tablename__ = "contact_attribute_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(10))  # one of ATTRIBUTE_TYPES
    # segmentable values are also kept in plaintext in contact_attribute_values
    segmentable: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttributeValue(Base):
    """Plaintext typed index of segmentable attributes (one value column used per type)."""

    __tablename__ = "contact_attribute_values"
    __table_args__ = (
        Index("ix_contact_attribute_values_name_text", "name", "value_text"),
        Index("ix_contact_attribute_values_name_number", "name", "value_number"),
        Index("ix_contact_attribute_values_name_date", "name", "value_date"),
    )

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_text: Mapped[str | None] = mapped_column(String(500), nullable=True)
    value_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_bool: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    value_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class ContactTag(Base):
    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ContactList(Base):
    """A static list: members are added and removed explicitly (segments are the dynamic kind)."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListMembership(Base):
    __tablename__ = "contact_list_members"

    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """The consent ledger. Append-only (enforced in ``contacts.consent``); erasure only wipes ``proof``.

    ``phone_index`` is copied from the contact so the ledger still proves an opt-out after the
    contact was erased or merged away.
    """

    __tablename__ = "consent_events"
    # a contact's events, and those after a moment (a campaign report's opt-outs after its message): one index,
    # as on messages, so a stale plan cannot probe the time index for every recipient
    __table_args__ = (Index("ix_consent_events_contact_at", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True)
    phone_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(12))  # opt_in | opt_out (STOP) | pending | declined (no marketing)
    source: Mapped[str] = mapped_column(String(20))
    proof: Mapped[str] = mapped_column(EncryptedText, default="")
    actor_type: Mapped[str] = mapped_column(String(20), default="system")
    actor_id: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Suppression(Base):
    """Global do-not-text list by blind index; works for numbers that are not contacts."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # manual | erased | complaint | crm | ...
    note: Mapped[str] = mapped_column(Text, default="")  # free text, must not hold personal data
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementEvent(Base):
    """What a contact did: campaigns record clicked, purchased, delivered; conversations record replied."""

    __tablename__ = "engagement_events"
    __table_args__ = (Index("ix_engagement_events_contact_kind_at", "contact_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # one of ENGAGEMENT_KINDS
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ref: Mapped[str] = mapped_column(String(200), default="")  # e.g. "campaign:12", "message:345"


class Segment(Base):
    """Saved segment rules (see ``contacts.segments`` for the grammar)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncCursor(Base):
    """Where a CRM sync left off (e.g. the last consent event pushed to HubSpot)."""

    __tablename__ = "contact_sync_cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


IMPORT_STATES = ("pending", "running", "succeeded", "failed", "cancelled")


class ContactImport(Base):
    """One contact import run as a background job (see ``contacts.import_jobs``).

    ``cursor`` is the spreadsheet row number (header = 1) of the last row whose batch committed, in
    the same transaction as that batch, so a retried job resumes after it and never writes a row
    twice. ``phase`` is ``validating`` (strict imports and dry runs read the whole file first) or
    ``importing``. Counters are those of the current phase.
    """

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    # contacts (contacts.import_jobs) or orders (contacts.order_jobs): both keep their upload and rejected rows here
    kind: Mapped[str] = mapped_column(String(8), default="contacts", server_default="contacts")
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # IMPORT_STATES
    phase: Mapped[str] = mapped_column(String(12), default="importing")
    filename: Mapped[str] = mapped_column(String(255), default="")
    format: Mapped[str] = mapped_column(String(4))  # csv | xlsx
    encoding: Mapped[str] = mapped_column(String(20), default="")
    delimiter: Mapped[str] = mapped_column(String(2), default="")
    size_bytes: Mapped[int] = mapped_column(default=0)
    chunk_count: Mapped[int] = mapped_column(default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"header": [...], "columns": [{"column", "target", "source", "note"}, ...]} as resolved at upload
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows_total: Mapped[int | None] = mapped_column(nullable=True)  # an estimate, for progress
    cursor: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0, server_default="0")  # existing contacts the file changed not
    skipped: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    without_consent: Mapped[int] = mapped_column(default=0)  # imported rows with no consent value
    error: Mapped[str] = mapped_column(Text, default="")  # why a failed import stopped
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # an order import's report
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_type: Mapped[str] = mapped_column(String(20), default="system")
    created_by_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ContactImportChunk(Base):
    """The uploaded file, encrypted, in 1 MiB pieces: every API host and worker can read it."""

    __tablename__ = "contact_import_chunks"

    import_id: Mapped[int] = mapped_column(ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # core.crypto.encrypt_bytes


class ContactImportProblem(Base):
    """A rejected row (``severity`` error, with its cells, encrypted) or a warning about a row."""

    __tablename__ = "contact_import_problems"
    __table_args__ = (Index("ix_contact_import_problems_import_severity_row", "import_id", "severity", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("contact_imports.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column()  # spreadsheet row number: header = 1, first data row = 2
    severity: Mapped[str] = mapped_column(String(7))  # error | warning
    column: Mapped[str] = mapped_column(String(200), default="")
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500), default="")  # never holds the cell's value
    cells: Mapped[list[str] | None] = mapped_column(EncryptedJSON, nullable=True)


class ContactImportNumber(Base):
    """Numbers already seen by one running import (blind index), to find duplicates within the file
    without holding millions of digests in the worker's memory; deleted when the import ends."""

    __tablename__ = "contact_import_numbers"

    import_id: Mapped[int] = mapped_column(ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    row: Mapped[int] = mapped_column()


ORDER_SOURCES = ("import", "shopify", "api")
#: open → paid → cancelled; a later state never goes back (contacts.orders.advance_status)
ORDER_STATUSES = ("open", "paid", "cancelled")


class Order(Base):
    """One purchase of a contact (see ``contacts.orders``); money in integer micro-units.

    ``external_id`` is the order's id where it came from (the invoice number of an import, the
    Shopify order id), unique per ``source``, so recording the same order twice finds the first.
    A cancelled order either reverses an earlier purchase (Shopify's ``orders/cancelled``: lines
    keep their positive quantities, ``cancelled_at`` says when) or is itself a credit note with
    negative quantities (Online Retail's ``C`` invoices).
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_orders_source_external_id"),
        Index("ix_orders_contact_ordered_at", "contact_id", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(12))  # one of ORDER_SOURCES
    external_id: Mapped[str] = mapped_column(String(64))
    ordered_at: Mapped[datetime] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3), default="")
    total_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(12), default="paid")  # one of ORDER_STATUSES
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    country: Mapped[str] = mapped_column(String(64), default="")  # as the shop recorded it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderLine(Base):
    """One product line of an order; a negative quantity returns units (credit notes)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column()
    unit_price_micros: Mapped[int] = mapped_column(BigInteger)


#: What the scoring job (``intelligence``) computes per contact; segment rules and templates name these.
PREDICTION_KINDS: dict[str, str] = {
    "purchase_90d": "probability of buying in the next 90 days",
    "churn_risk": "probability of not buying in the next 90 days",
    "expected_spend": "expected spend in the next 90 days",
    "clv": "expected lifetime value",
    "next_purchase_days": "days until the expected next purchase",
    "best_hour": "best hour to text, in the contact's zone (0-23)",
    "uplift": "expected change in response if texted",
    "response": "probability of responding to a campaign",
}


class Prediction(Base):
    """A contact's current value of one kind of prediction, with the model version that computed it.

    The contact's data (erased with them, listed in their export), written by ``intelligence``'s
    scoring job. ``detail`` carries what a segment or template may also want: ``percentile`` (the
    share of scored contacts whose value is at or below this one, 0-100: "top 10 %" is above 90),
    ``products``, ``hour``, ``day``.
    There is no unique constraint on (contact, kind): merging two contacts re-points every row of
    the merged-away one (``contacts.merge``) and must not fail; the store keeps one row per contact
    and kind when it writes, and readers take the newest.
    """

    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_contact_kind", "contact_id", "kind"),
                      Index("ix_predictions_kind_value", "kind", "value"))  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # one of PREDICTION_KINDS
    value: Mapped[float] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
