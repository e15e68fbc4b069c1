"""The template editor's form and ``campaigns.schemas.TemplateIn``, both ways.

The form posts flat fields (``name``, ``kind``, ``language``, ``body``, ``event_fields`` as text,
``attributes`` kept from the API) and one ``media_url`` / ``media_type`` / ``media_caption``
entry per attachment row. A row without a URL is an empty slot, not an attachment. Errors of the
request model come back as ``ValidationFailed`` with one ``{"field", "message"}`` per problem, so
the editor shows them where they belong and a save answers a 422 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from campaigns.models import Template
from campaigns.schemas import TemplateIn
from core.errors import ValidationFailed

KINDS = {"marketing": "Marketing (needs consent, opt-out line added)", "transactional": "Transactional (event-driven)"}
DEFAULT_MEDIA_TYPE = "image/jpeg"
_SPLIT = re.compile(r"[\s,]+")


@dataclass
class MediaRow:
    url: str = ""
    content_type: str = DEFAULT_MEDIA_TYPE
    caption: str = ""


@dataclass
class Draft:
    """The editor's fields as typed; ``contact_id`` is the sample contact of the preview."""

    name: str = ""
    kind: str = "marketing"
    language: str = "en"
    body: str = ""
    event_fields: str = ""
    attributes: list[str] = field(default_factory=list)
    media: list[MediaRow] = field(default_factory=list)
    contact_id: int | None = None


def _one(form: Mapping[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key) or [default]
    return values[0]


def from_form(form: Mapping[str, list[str]]) -> Draft:
    """The draft from posted lists (one entry per field, one per media row in order)."""
    columns = [form.get(name, []) for name in ("media_url", "media_type", "media_caption")]
    media = [MediaRow(url.strip(), kind.strip() or DEFAULT_MEDIA_TYPE, caption.strip())
             for url, kind, caption in zip(*columns, strict=False)]
    contact = _one(form, "contact_id").strip()
    return Draft(
        name=_one(form, "name").strip(),
        kind=_one(form, "kind", "marketing"),
        language=_one(form, "language", "en").strip(),
        body=_one(form, "body").replace("\r\n", "\n"),  # browsers post CRLF; a message counts one character
        event_fields=_one(form, "event_fields").strip(),
        attributes=[a for a in _SPLIT.split(_one(form, "attributes")) if a],
        media=media,
        contact_id=int(contact) if contact.isdigit() else None,
    )


def from_template(template: Template) -> Draft:
    return Draft(
        name=template.name, kind=template.kind, language=template.language, body=template.body,
        event_fields=", ".join(template.event_fields), attributes=list(template.attributes),
        media=[MediaRow(str(m.get("url", "")), str(m.get("content_type", DEFAULT_MEDIA_TYPE)),
                        str(m.get("caption", ""))) for m in template.media],
    )


def _where(loc: tuple[int | str, ...]) -> str:
    """``('media', 0, 'url')`` → ``media[0].url``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def to_template(draft: Draft, *, name: str | None = None) -> TemplateIn:
    """The request model of a save (``name`` stands in while a live check runs on an unnamed draft).

    Raises:
        ValidationFailed: each field the model refuses, as ``{"field", "message"}``.
    """
    data = {
        "name": draft.name or (name or ""), "kind": draft.kind, "language": draft.language, "body": draft.body,
        "attributes": draft.attributes, "event_fields": [f for f in _SPLIT.split(draft.event_fields) if f],
        "media": [{"url": m.url, "content_type": m.content_type, **({"caption": m.caption} if m.caption else {})}
                  for m in draft.media if m.url],
    }
    try:
        return TemplateIn.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": _where(e["loc"]) or "body", "message": str(e["msg"]).removeprefix("Value error, ")}
                  for e in exc.errors()]
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors) from None


def apply(draft: Draft, action: str) -> Draft:
    """A media row added (``add-media``) or removed (``remove-media:N``)."""
    kind, _, where = action.partition(":")
    if kind == "add-media":
        draft.media.append(MediaRow())
    elif kind == "remove-media" and where.isdigit() and int(where) < len(draft.media):
        draft.media.pop(int(where))
    return draft
