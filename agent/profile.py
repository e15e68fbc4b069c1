"""The business profile: brand voice (``brand:``) and business hours (``hours:``), in the database.

Every API replica and worker reads the same profile (table ``business_profile``, one row holding
the YAML it was given), installed by ``relais profile load FILE``, ``relais demo load`` or
``PUT /api/v1/agent/profile``::

    brand: {name: Maison Lumière, voice: "Warm, precise, vouvoiement in French", avoid: [cheap]}
    hours: {timezone: Europe/Paris, weekly: {mon: "09:00-18:00"}, closed_reply: {en: "..."}}

Without a row the defaults apply: the business name from settings, always open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Select, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent.hours import BusinessHours, HoursError, parse_hours
from agent.models import BusinessProfileRow
from agent.responder.prompts import BrandVoice
from core.db import utcnow
from core.errors import ValidationFailed
from core.settings import Settings

MAX_PROFILE_BYTES = 64 * 1024
_ROW_ID = 1


@dataclass(frozen=True)
class BusinessProfile:
    brand: BrandVoice
    hours: BusinessHours


def parse_profile(data: Any, *, settings: Settings, source: str = "profile") -> BusinessProfile:
    """Validate a profile mapping; raises ``ValidationFailed`` naming ``source`` and the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: expected a mapping with 'brand' and 'hours'")
    unknown = set(data) - {"brand", "hours"}
    if unknown:
        raise ValidationFailed(f"{source}: unknown sections {sorted(unknown)} (use brand, hours)")
    try:
        hours = parse_hours(data.get("hours"))
    except HoursError as exc:
        raise ValidationFailed(f"{source}: {exc}") from None
    return BusinessProfile(brand=BrandVoice.from_mapping(data.get("brand"), default_business=settings.business_name),
                           hours=hours)


def parse_profile_text(text: str, *, settings: Settings, source: str = "profile") -> BusinessProfile:
    """Validate a profile given as YAML (or JSON) text; raises ``ValidationFailed``."""
    if len(text.encode("utf-8")) > MAX_PROFILE_BYTES:
        raise ValidationFailed(f"{source}: the profile is limited to {MAX_PROFILE_BYTES // 1024} KB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{source}: not valid YAML ({exc})") from None
    return parse_profile(data, settings=settings, source=source)


def read_profile(path: Path, settings: Settings) -> BusinessProfile:
    """The profile in the file ``path`` (evaluation reads the demo's); the defaults if absent."""
    if not path.exists():
        return parse_profile({}, settings=settings)
    return parse_profile_text(path.read_text(encoding="utf-8"), settings=settings, source=str(path))


class ProfileStore:
    """The deployment's profile row: save (validated), read, and a cheap change stamp."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def save(self, text: str, *, settings: Settings, source: str = "profile",
             session: Session | None = None) -> BusinessProfile:
        """Validate ``text`` and make it the profile; raises ``ValidationFailed`` and stores nothing then.
        ``session``: write in the caller's transaction (an API request's) instead of one of its own."""
        profile = parse_profile_text(text, settings=settings, source=source)
        if session is None:
            with self._sessions.begin() as own:
                _write(own, text)
        else:
            _write(session, text)
        return profile

    def document(self, *, session: Session | None = None) -> str | None:
        """The stored YAML, or None when no profile was installed (read in ``session`` when given)."""
        if session is not None:
            return session.scalar(select(BusinessProfileRow.document).where(BusinessProfileRow.id == _ROW_ID))
        with self._sessions.begin() as own:
            return own.scalar(select(BusinessProfileRow.document).where(BusinessProfileRow.id == _ROW_ID))

    def load(self, settings: Settings) -> BusinessProfile:
        """The stored profile, or the defaults when none was installed."""
        text = self.document()
        return parse_profile_text(text or "{}", settings=settings, source="stored profile")


def stamp_select() -> Select[datetime]:
    """When the profile last changed (no row: never installed); one primary-key lookup."""
    return select(BusinessProfileRow.updated_at).where(BusinessProfileRow.id == _ROW_ID)


def _write(session: Session, text: str) -> None:
    row = session.get(BusinessProfileRow, _ROW_ID)
    if row is None:
        session.add(BusinessProfileRow(id=_ROW_ID, document=text, updated_at=utcnow()))
    else:
        row.document, row.updated_at = text, utcnow()
    session.flush()
