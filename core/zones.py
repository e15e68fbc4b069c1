"""Which clock a stored zone name means: the one reading of a contact's (or a campaign's) time zone.

Quiet hours and local-time sends (``campaigns.scheduling``) and the chance to respond's hour and weekday
(``intelligence.response_features``) read a contact's ``timezone`` through :func:`zone`, so a name that
is empty or unknown falls back the same way everywhere and never fails a send or a scoring run.
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@functools.cache
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The zone called ``name``, else ``fallback`` (an unknown or empty name never fails a send)."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
