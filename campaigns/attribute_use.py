"""What reads a contact attribute, so a declaration still in use is never deleted.

A template reading ``attributes.NAME`` fails its check at the next send once NAME is undeclared, and
a segment or a campaign's own rules filtering on it stop compiling. ``contacts.attributes`` refuses
what its own package can see (saved segments); this module adds templates and the inline rules of
campaigns that may still send, and is the one deletion path the API and the console call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, Template
from campaigns.templates import attribute_names
from contacts import attributes as attrs
from contacts import segments
from core.errors import Conflict

#: a campaign in these states sends no more: its rules no longer matter
FINISHED = ("completed", "cancelled")


@dataclass(frozen=True)
class User:
    """One thing that reads the attribute: its kind (segment, template, campaign), id and name."""

    kind: str
    id: int
    name: str

    @property
    def words(self) -> str:
        return f"{self.kind} “{self.name}” (#{self.id})"

    @property
    def link(self) -> str:
        return {"segment": f"/console/segments/{self.id}", "template": f"/console/templates/{self.id}",
                "campaign": f"/console/campaigns/{self.id}"}[self.kind]


def users(session: Session, name: str) -> list[User]:
    """Saved segments, templates and unfinished campaigns' own rules that read attribute ``name``."""
    found = [User("segment", s.id, s.name) for s in segments.reading_attribute(session, name)]
    found += [User("template", t.id, t.name)
              for t in session.scalars(select(Template).order_by(Template.name))
              if name in (t.attributes or []) or name in attribute_names(t.body)]
    found += [User("campaign", c.id, c.name)
              for c in session.scalars(select(Campaign).where(Campaign.status.not_in(FINISHED)).order_by(Campaign.id))
              if c.segment and segments.reads_attribute(c.segment, name)]
    return found


def undefine(session: Session, name: str) -> None:
    """Delete the declaration of ``name`` unless something reads it (``Conflict`` naming each user).

    Raises ``NotFound`` when it is not declared.
    """
    attrs.get(session, name)
    found = users(session, name)
    if found:
        raise Conflict(f"attribute {name!r} is still used by {', '.join(u.words for u in found)}: "
                       "change them first")
    attrs.undefine(session, name=name)
