"""Finding contacts the way a person looks for them: by name, e-mail or number, with filters.

Filters (consent, language, country, tag) are plaintext columns and compile to SQL through
``contacts.segments``. A number is found through the blind index in one query. Names and e-mail
addresses are encrypted at rest, so no SQL can match them: they are decrypted and compared here,
scanning at most :data:`SCAN_LIMIT` contacts per call in id order. The page then says how far it
looked, and the next call (keyset: ``after_id``) carries on from there, so a search of a large
database stays a series of short requests rather than one long one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.phone import InvalidPhoneNumber, normalize_e164
from contacts.models import Contact
from contacts.segments import compile_segment
from core.crypto import blind_index
from core.text import strip_accents

SCAN_LIMIT = 5000
SCAN_BATCH = 500
_PHONE_LIKE = re.compile(r"^[+\d][\d\s().-]{5,}$")


@dataclass(frozen=True)
class Filters:
    """Exact filters; empty strings mean "any"."""

    consent: str = ""
    language: str = ""
    country: str = ""
    tag: str = ""

    def rules(self) -> dict[str, Any]:
        """The filters as segment rules (``contacts.segments`` validates the values)."""
        conditions: list[dict[str, Any]] = []
        if self.consent:
            conditions.append({"field": "consent", "op": "eq", "value": self.consent})
        if self.language:
            conditions.append({"field": "language", "op": "eq", "value": self.language.strip().lower()})
        if self.country:
            conditions.append({"field": "country", "op": "eq", "value": self.country.strip()})
        if self.tag:
            conditions.append({"field": "tag", "op": "has", "value": self.tag.strip()})
        return {"all": conditions}


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, oldest first.

    ``next_after_id`` continues the search (``None``: nothing more to find). ``scanned_to`` is set
    when the page stopped because it had looked at :data:`SCAN_LIMIT` contacts without filling up:
    the contacts up to that id were searched, the rest not yet.
    """

    contacts: list[Contact]
    next_after_id: int | None
    scanned_to: int | None = None


def fold(text: str) -> str:
    """Lower case without accents, so ``zoe`` finds ``Zoé``."""
    return strip_accents(text).casefold()


def _matches(contact: Contact, needle: str) -> bool:
    email = (contact.attributes or {}).get("email")
    haystack = " ".join(str(v) for v in (contact.first_name, contact.name, email) if v)
    return needle in fold(haystack)


def search(
    session: Session,
    *,
    text: str = "",
    filters: Filters = Filters(),  # frozen, never mutated
    after_id: int = 0,
    limit: int = 50,
    region: str | None = None,
    scan_limit: int = SCAN_LIMIT,
) -> SearchPage:
    """Contacts after ``after_id`` matching ``text`` (a number, or part of a name or e-mail) and ``filters``.

    Erased contacts never match. A text that looks like a number is normalised with ``region``
    (national forms) and looked up exactly; a number that cannot be one matches nobody.

    Raises:
        ValidationFailed: a filter value ``contacts.segments`` refuses (e.g. an unknown consent state).
    """
    ids = compile_segment(filters.rules()).where(Contact.id > after_id)
    text = text.strip()
    if text and _PHONE_LIKE.match(text):
        try:
            e164 = normalize_e164(text, region=region, field="q")
        except InvalidPhoneNumber:
            return SearchPage([], None)
        ids = ids.where(Contact.phone_index == blind_index(e164))
        text = ""
    if not text:
        page = list(session.scalars(ids.limit(limit)))
        found = session.scalars(select(Contact).where(Contact.id.in_(page)).order_by(Contact.id)).all()
        return SearchPage(list(found), page[-1] if len(page) == limit else None)
    needle = fold(text)
    matches: list[Contact] = []
    scanned = 0
    last = after_id
    while scanned < scan_limit:
        batch = list(session.scalars(ids.where(Contact.id > last).limit(min(SCAN_BATCH, scan_limit - scanned))))
        if not batch:
            return SearchPage(matches, None)
        rows = session.scalars(select(Contact).where(Contact.id.in_(batch)).order_by(Contact.id))
        for contact in rows:
            last = contact.id
            scanned += 1
            if _matches(contact, needle):
                matches.append(contact)
                if len(matches) == limit:
                    return SearchPage(matches, contact.id)
    return SearchPage(matches, last, scanned_to=last)
