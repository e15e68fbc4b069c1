"""Which contact placed an order: by the shop's customer id, the phone number or the e-mail address.

Shops know their customers by their own number (Online Retail's ``CustomerID``, Shopify's customer
id), by phone or by e-mail; Relais knows contacts by phone. An order's customer is matched, in
this order:

1. **customer id**: the contact attribute :data:`CUSTOMER_ID_ATTRIBUTE` (declare it, ideally
   ``segmentable`` — a shop's customer number is not personal data — and import it with the
   contacts). Segmentable, it is one indexed query per batch; otherwise the contacts' encrypted
   attributes are read once per import.
2. **phone**: the blind index of the E.164 number (national forms read with the default region).
3. **e-mail**: the attribute :data:`EMAIL_ATTRIBUTE`, compared case-insensitively. E-mail
   addresses are encrypted, so they are read once per import (file imports only: a single order
   never scans every contact).

Erased contacts never match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.phone import InvalidPhoneNumber, normalize_e164
from contacts.attributes import schema
from contacts.models import AttributeValue, Contact
from core.crypto import blind_index

CUSTOMER_ID_ATTRIBUTE = "customer_id"
EMAIL_ATTRIBUTE = "email"
LOOKUP_BATCH = 500
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")


def customer_key(raw: object) -> str:
    """A customer id as text: ``17850.0`` (how spreadsheets and pandas write integer ids) → ``17850``."""
    text = str(raw if raw is not None else "").strip()
    whole = _FLOAT_ID.match(text)
    return whole.group(1) if whole else text


@dataclass(frozen=True)
class Customer:
    """What an order says about who placed it; empty strings when unknown."""

    customer_id: str = ""
    phone: str = ""
    email: str = ""

    @property
    def empty(self) -> bool:
        return not (self.customer_id or self.phone or self.email)


class CustomerMatcher:
    """Contact ids for customers, with look-ups batched and remembered for one import or request.

    Call :meth:`prefetch` with a batch's customers before :meth:`find` so ids and numbers cost one
    query per :data:`LOOKUP_BATCH` rather than one per order. ``scan=False`` (single orders) never
    reads every contact: e-mail addresses, and customer ids of a non-segmentable attribute, then
    match nobody.
    """

    def __init__(self, session: Session, *, region: str | None, scan: bool = True) -> None:
        self.session = session
        self.region = region
        self.scan = scan
        definition = schema(session).get(CUSTOMER_ID_ATTRIBUTE)
        self._id_type = definition.type if definition is not None else None
        self._id_indexed = definition is not None and definition.segmentable
        self._by_id: dict[str, int | None] = {}
        self._by_phone: dict[str, int | None] = {}
        self._scanned: tuple[dict[str, int], dict[str, int]] | None = None

    def prefetch(self, customers: Iterable[Customer]) -> None:
        """Look up the customer ids and numbers of ``customers`` not seen yet, in batches."""
        ids, phones = set(), set()
        for customer in customers:
            if customer.customer_id and customer.customer_id not in self._by_id:
                ids.add(customer.customer_id)
            if customer.phone and customer.phone not in self._by_phone:
                phones.add(customer.phone)
        if ids and self._id_indexed:
            self._lookup_ids(sorted(ids))
        if phones:
            self._lookup_phones(sorted(phones))

    def find(self, customer: Customer) -> int | None:
        """The contact id of ``customer``, or ``None`` when no contact matches."""
        if customer.customer_id:
            found = self._find_by_id(customer.customer_id)
            if found is not None:
                return found
        if customer.phone:
            if customer.phone not in self._by_phone:
                self._lookup_phones([customer.phone])
            found = self._by_phone[customer.phone]
            if found is not None:
                return found
        if customer.email and self.scan:
            return self._scan()[1].get(customer.email.strip().casefold())
        return None

    # -- look-ups ---------------------------------------------------------------------------

    def _find_by_id(self, key: str) -> int | None:
        if self._id_type is None:
            return None  # nobody can hold an undeclared attribute
        if not self._id_indexed:
            return self._scan()[0].get(key) if self.scan else None
        if key not in self._by_id:
            self._lookup_ids([key])
        return self._by_id[key]

    def _lookup_ids(self, keys: list[str]) -> None:
        for start in range(0, len(keys), LOOKUP_BATCH):
            chunk = keys[start : start + LOOKUP_BATCH]
            query = select(AttributeValue.contact_id, AttributeValue.value_text, AttributeValue.value_number).join(
                Contact, Contact.id == AttributeValue.contact_id
            ).where(AttributeValue.name == CUSTOMER_ID_ATTRIBUTE, Contact.erased.is_(False))
            if self._id_type == "number":
                numbers = [float(k) for k in chunk if _is_number(k)]
                query = query.where(AttributeValue.value_number.in_(numbers))
            else:
                query = query.where(AttributeValue.value_text.in_(chunk))
            for key in chunk:
                self._by_id.setdefault(key, None)
            for contact_id, text, number in self.session.execute(query.order_by(AttributeValue.contact_id)):
                key = customer_key(number if self._id_type == "number" else text)
                if self._by_id.get(key) is None:  # two contacts with one id: the oldest wins
                    self._by_id[key] = contact_id

    def _lookup_phones(self, phones: list[str]) -> None:
        wanted: dict[str, list[str]] = {}
        for phone in phones:
            self._by_phone[phone] = None
            try:
                index = blind_index(normalize_e164(phone, region=self.region, field="phone"))
            except InvalidPhoneNumber:
                continue
            wanted.setdefault(index, []).append(phone)
        indexes = sorted(wanted)
        for start in range(0, len(indexes), LOOKUP_BATCH):
            rows = self.session.execute(
                select(Contact.id, Contact.phone_index).where(
                    Contact.phone_index.in_(indexes[start : start + LOOKUP_BATCH]), Contact.erased.is_(False)
                )
            )
            for contact_id, found_index in rows:
                for phone in wanted[found_index or ""]:
                    self._by_phone[phone] = contact_id

    def _scan(self) -> tuple[dict[str, int], dict[str, int]]:
        """Customer ids and e-mail addresses of every contact, decrypted once (oldest contact wins)."""
        if self._scanned is None:
            by_id: dict[str, int] = {}
            by_email: dict[str, int] = {}
            rows = self.session.execute(
                select(Contact.id, Contact.attributes)
                .where(Contact.erased.is_(False))
                .order_by(Contact.id)
                .execution_options(yield_per=1000)
            )
            for contact_id, attributes in rows:
                values = attributes or {}
                if values.get(CUSTOMER_ID_ATTRIBUTE) is not None:
                    by_id.setdefault(customer_key(values[CUSTOMER_ID_ATTRIBUTE]), contact_id)
                if isinstance(values.get(EMAIL_ATTRIBUTE), str):
                    by_email.setdefault(values[EMAIL_ATTRIBUTE].strip().casefold(), contact_id)
            self._scanned = (by_id, by_email)
        return self._scanned


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
