"""The brand profile: one row (id 1) read by templates (STOP number), variants and the brand check.

It also answers "what is this business called?" for every place that shows the name (templates'
``{{ business_name }}``, variants, the console, the simulator): :func:`business_name`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from campaigns.models import BrandProfile
from campaigns.schemas import BrandIn
from core.errors import ValidationFailed
from core.settings import Settings, get_settings

PROFILE_ID = 1


def business_name(session: Session, settings: Settings | None = None) -> str:
    """The business's name as customers and users see it: the brand profile's, else ``RELAIS_BUSINESS_NAME``.

    Read-only (never creates the profile row), so any page may call it.
    """
    profile = session.get(BrandProfile, PROFILE_ID)
    if profile is not None and profile.name.strip():
        return profile.name.strip()
    return (settings or get_settings()).business_name


def first_language(session: Session, offered: Collection[str]) -> str:
    """The language a new text starts in (a template, a canned response): the brand's first language
    among ``offered`` (French for the demo shop), else English. Read-only, like :func:`business_name`.

    A French shop's new template started in English, so its French text got "Reply STOP to opt out".
    """
    profile = session.get(BrandProfile, PROFILE_ID)
    return next((code for code in (profile.languages if profile else []) if code in offered), "en")


def get_profile(session: Session) -> BrandProfile:
    """The brand profile, created with the business name and defaults on first use."""
    profile = session.get(BrandProfile, PROFILE_ID)
    if profile is None:
        profile = BrandProfile(id=PROFILE_ID, name=get_settings().business_name, voice="", examples=[],
                               banned_terms=[], required_terms=[], emoji_policy="some", languages=[],
                               max_segments=2, sentiment_min=0.0, sentiment_max=1.0, stop_number="")
        session.add(profile)
        session.flush()
    return profile


def update_profile(session: Session, data: BrandIn) -> tuple[BrandProfile, dict[str, list[object]]]:
    """Replace the profile's fields; returns it and the ``{field: [old, new]}`` diff for the audit."""
    profile = get_profile(session)
    diff: dict[str, list[object]] = {}
    for key, value in data.model_dump().items():
        old = getattr(profile, key)
        if old != value:
            diff[key] = [old, value]
            setattr(profile, key, value)
    session.flush()
    return profile, diff


def read_brand_file(path: Path) -> BrandIn:
    """A brand profile written as YAML (``examples/maison-lumiere/brand.yaml``); raises ``ValidationFailed``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return BrandIn.model_validate(data or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValidationFailed(f"{path}: not a valid brand profile ({exc})") from None


def is_default(session: Session, settings: Settings | None = None) -> bool:
    """True while nobody has set the brand (no row, or the row first use created, untouched)."""
    profile = session.get(BrandProfile, PROFILE_ID)
    if profile is None:
        return True
    untouched = BrandIn.model_validate({"name": (settings or get_settings()).business_name}).model_dump()
    return all(getattr(profile, key) == value for key, value in untouched.items())
