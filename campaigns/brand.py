"""The brand profile: one row (id 1) read by templates (STOP number), variants and the brand check."""

from __future__ import annotations

from sqlalchemy.orm import Session

from campaigns.models import BrandProfile
from campaigns.schemas import BrandIn
from core.settings import get_settings

PROFILE_ID = 1


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
