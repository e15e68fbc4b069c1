"""Link shortening with per-recipient click tracking through ``/l/{code}``.

URLs written in a template are registered once per campaign (``CampaignLink``); each recipient
gets a code ``<link>-<contact>-<signature>`` (base62, keyed BLAKE2b signature), so no row is
written per recipient at send time and a code cannot be forged to count clicks for someone else.
A click records a ``LinkClick`` and a ``contacts`` engagement event ``clicked`` (segments such as
"clicked within 7 days" read those).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import CampaignLink, LinkClick
from contacts.models import Contact, EngagementEvent
from core.errors import NotFound
from core.runtime import secret_key
from core.security import tokens
from core.settings import get_settings

URL_PATTERN = re.compile(r"https?://[^\s<>\"'{}]+[^\s<>\"'{}.,;:!?)]")
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SIG_CHARS = 7


def b62(number: int) -> str:
    if number < 0:
        raise ValueError("negative")
    out = ""
    while True:
        number, rem = divmod(number, 62)
        out = _ALPHABET[rem] + out
        if number == 0:
            return out


def unb62(text: str) -> int:
    value = 0
    for ch in text:
        idx = _ALPHABET.find(ch)
        if idx < 0:
            raise ValueError(f"bad base62 character {ch!r}")
        value = value * 62 + idx
    return value


@dataclass(frozen=True)
class Shortener:
    """Builds tracked URLs; create one per campaign preparation (it holds the key and base URL)."""

    key: bytes
    base_url: str

    @classmethod
    def from_settings(cls) -> Shortener:
        settings = get_settings()
        base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        return cls(key=hashlib.sha256(("links:" + secret_key(settings)).encode()).digest(), base_url=base)

    def _sig(self, link_id: int, contact_id: int) -> str:
        digest = hashlib.blake2b(f"{link_id}:{contact_id}".encode(), key=self.key, digest_size=8).digest()
        return b62(int.from_bytes(digest, "big"))[:_SIG_CHARS]

    def code(self, link_id: int, contact_id: int) -> str:
        return f"{b62(link_id)}-{b62(contact_id)}-{self._sig(link_id, contact_id)}"

    def parse(self, code: str) -> tuple[int, int]:
        """``(link_id, contact_id)`` of a genuine code; raises ``NotFound`` otherwise."""
        parts = code.split("-")
        try:
            link_id, contact_id = unb62(parts[0]), unb62(parts[1])
        except (ValueError, IndexError):
            raise NotFound("unknown link") from None
        if len(parts) != 3 or not tokens.same(parts[2], self._sig(link_id, contact_id)):  # constant time
            raise NotFound("unknown link")
        return link_id, contact_id

    def rewrite(self, text: str, links: Mapping[str, int], contact_id: int) -> str:
        """``text`` with every registered URL replaced by this contact's tracked short URL."""
        for url, link_id in links.items():
            if url in text:
                text = text.replace(url, f"{self.base_url}/l/{self.code(link_id, contact_id)}")
        return text


def register_links(session: Session, *, campaign_id: int | None, source: str) -> dict[str, int]:
    """Register every URL literally written in ``source``; returns ``{url: link_id}``.

    URLs built from variables at render time are left as they are (not tracked).
    """
    found: dict[str, int] = {}
    for url in dict.fromkeys(URL_PATTERN.findall(source)):
        link = session.scalar(select(CampaignLink).where(CampaignLink.campaign_id == campaign_id,
                                                         CampaignLink.url == url))
        if link is None:
            link = CampaignLink(campaign_id=campaign_id, url=url)
            session.add(link)
            session.flush()
        found[url] = link.id
    return found


def record_click(session: Session, *, code: str) -> str:
    """Record a click on ``code`` and return the target URL; raises ``NotFound`` for a bad code."""
    link_id, contact_id = Shortener.from_settings().parse(code)
    link = session.get(CampaignLink, link_id)
    if link is None:
        raise NotFound("unknown link")
    session.add(LinkClick(link_id=link.id, campaign_id=link.campaign_id, contact_id=contact_id))
    session.flush()
    _record_engagement(session, contact_id=contact_id, campaign_id=link.campaign_id, url=link.url)
    return link.url


def _record_engagement(session: Session, *, contact_id: int, campaign_id: int | None, url: str) -> None:
    if session.get(Contact, contact_id) is None:  # erased or merged away since the send
        return
    ref = f"campaign:{campaign_id}" if campaign_id is not None else f"link:{url[:180]}"
    session.add(EngagementEvent(contact_id=contact_id, kind="clicked", ref=ref))
    session.flush()
