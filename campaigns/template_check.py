"""The template editor's live check: a draft as one contact would receive it, and what is wrong with it.

One call answers everything the editor shows while the marketer types: the problems that would
refuse the save (syntax, unknown or possibly missing variables, unsafe constructs, a render past
the message limit, a media URL that is not public), the text as sent to the chosen contact (the
same :func:`campaigns.preview.preview` as the API's preview, so ``{{ business_name }}``, short
links and the opt-out footer match a real send), its encoding and segments with the characters
that force UCS-2, and the brand rules it breaks (banned or missing required terms, more segments
than the brand allows, emoji, spam patterns). Saving validates the same way
(:func:`campaigns.service.save_template`), so a draft with no problem here saves.
:func:`inspect_media` fetches one attachment on request and says whether it will go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.language import SHORT_MESSAGE_WORDS, SUPPORTED_LANGUAGES, clean_text, detect_language
from campaigns import preview, service
from campaigns.brand import get_profile
from campaigns.schemas import PreviewIn, TemplateIn
from campaigns.shop_currency import shop_currency
from campaigns.templates import (
    CONTACT_FIELDS,
    LIST_SEPARATOR,
    PREDICTION_ROOT,
    RECOMMENDATIONS_ROOT,
    footer,
    prediction_words,
    validate,
    with_footer,
)
from campaigns.variants.rules import RuleResult, all_rules
from channels.encoding import EncodingInfo, analyze, ucs2_characters
from channels.media import CARRIER_LIMITS, KB, MB, prepare_media, size_limit
from contacts.models import PREDICTION_KINDS, AttributeDefinition
from core import outbound_http
from core.errors import NotFound, PayloadTooLarge, ValidationFailed
from intelligence.personalise import RECOMMENDATIONS, TemplateValues, template_values

#: The most bytes fetched to inspect an attachment: the largest any carrier profile takes.
INSPECT_LIMIT = max(CARRIER_LIMITS.values())
CONTACT_FIELD_LABELS = {
    "first_name": "the contact's first name",
    "name": "the contact's (last) name",
    "language": "the contact's language code",
    "country": "the contact's country code",
    "timezone": "the contact's time zone",
}
#: how sure the detector must be that a message is in another language than the template's before the editor says so
#: (with the template's language weighed as a contact's known language is, ``agent.language.LONG_PRIOR_BOOST``):
#: "Maison Lumière: new lamps" reads 88 % French alone, a sentence of English 78-87 % English against it
READS_AS_CONFIDENCE = 0.6
_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class Variable:
    """A value a template may read, with the text the editor inserts for it."""

    name: str
    snippet: str
    description: str
    predicted: bool = False  # a prediction (``prediction.KIND``, ``recommendations``): listed apart in the editor


@dataclass(frozen=True)
class PredictionUse:
    """A prediction the draft reads, and the chosen contact's stored value (``None``: not scored yet)."""

    name: str
    description: str
    value: str | None


@dataclass
class Check:
    """The editor's verdict on a draft. ``text`` and ``info`` are ``None`` while it cannot be rendered."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    text: str | None = None
    info: EncodingInfo | None = None
    ucs2_characters: list[str] = field(default_factory=list)
    brand: list[RuleResult] = field(default_factory=list)
    footer: str = ""  # the opt-out line appended to this marketing text ("" when the text says STOP itself)
    media: int = 0
    # the predictions the draft reads, with the contact's values or why the preview shows a default there
    predictions: list[PredictionUse] = field(default_factory=list)
    # the language the message clearly reads as when it is not the template's (its opt-out line's): "" otherwise
    reads_as: str = ""

    @property
    def saveable(self) -> bool:
        return not self.problems


def check_media_urls(media: Sequence[Mapping[str, Any]]) -> None:
    """Refuse attachment URLs that point to a non-public address (``core.outbound_http`` rules).

    The provider and the phones fetch them, and Relais fetches them to resize images, so a private
    address would let a template reach internal hosts.

    Raises:
        ValidationFailed: ``field`` names the attachment (``media[0].url``).
    """
    for number, item in enumerate(media):
        outbound_http.check_url(str(item.get("url", "")), field=f"media[{number}].url")


@dataclass(frozen=True)
class MediaReport:
    """What fetching an attachment found: ``ok`` when it goes as it is or shrunk, and why in words."""

    ok: bool
    detail: str


def inspect_media(
    url: str, content_type: str, *, profile: str = "default", timeout: float = 10.0, deadline: float = 30.0
) -> MediaReport:
    """Fetch an attachment as the provider will and check it (``channels.media.prepare_media``).

    Sending hands the provider the address as it is (Relais hosts no media and fetches none when sending), so an
    image over the carrier limit is reported as not fitting, with the size a JPEG copy would have.

    The fetch goes through ``core.outbound_http`` (public addresses only, every redirect checked)
    and stops past :data:`INSPECT_LIMIT` bytes or ``deadline`` seconds, so a wrong address costs one
    bounded request.
    """
    try:
        outbound_http.check_url(url, field="media")
        data = bytearray()
        with outbound_http.client(timeout=timeout, deadline=deadline) as http, http.stream("GET", url) as response:
            if response.status_code != 200:
                return MediaReport(False, f"the address answers HTTP {response.status_code}, not the file")
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > INSPECT_LIMIT:
                    return MediaReport(False, f"the file is over {INSPECT_LIMIT // MB} MB: no carrier takes it")
        prepared = prepare_media(bytes(data), content_type, profile=profile)
    except (ValidationFailed, PayloadTooLarge) as exc:
        return MediaReport(False, exc.detail)
    except httpx.HTTPError as exc:
        return MediaReport(False, f"the file could not be fetched ({exc.__class__.__name__}: {exc})")
    size = f"{prepared.kind}, {prepared.content_type}, {len(data) / KB:.0f} KB"
    if prepared.width and prepared.height:
        size += f", {prepared.width}×{prepared.height}"
    if prepared.resized:  # nothing shrinks it on the way: the provider fetches this very file
        return MediaReport(False, f"{size}: over the {size_limit(profile) // KB} KB most carriers take, and it is "
                                  f"sent as this address, not shrunk: put a smaller copy online (as a JPEG it "
                                  f"fits in {prepared.size / KB:.0f} KB)")
    return MediaReport(True, f"{size}: sent as it is")


def available_variables(session: Session, draft: TemplateIn | None = None) -> list[Variable]:
    """What a template may read: the business name, contact fields, declared attributes, the contact's
    predictions (``prediction.KIND``, ``recommendations``) and (for a transactional draft) its event
    fields, each with a snippet that passes validation as inserted."""
    found = [Variable("business_name", "{{ business_name }}", "the business name from the brand profile")]
    found += [Variable(name, f'{{{{ {name} | default("") }}}}', CONTACT_FIELD_LABELS[name]) for name in CONTACT_FIELDS]
    declared = {d.name: d for d in session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.name))}
    for name in [*declared, *(n for n in (draft.attributes if draft else []) if n not in declared)]:
        definition = declared.get(name)
        about = (definition.description or f"contact attribute ({definition.type})") if definition else \
            "attribute declared on this template"
        found.append(Variable(f"attributes.{name}", f'{{{{ attributes.{name} | default("") }}}}', about))
    found += [Variable(f"{PREDICTION_ROOT}.{kind}", f'{{{{ {PREDICTION_ROOT}.{kind} | default("") }}}}',
                       f"{about} (empty until the contact is scored)", predicted=True)
              for kind, about in PREDICTION_KINDS.items()]
    found.append(Variable(RECOMMENDATIONS_ROOT, f'{{{{ {RECOMMENDATIONS_ROOT} | default("") }}}}',
                          f"up to {RECOMMENDATIONS} products the contact is likely to buy next, printed as "
                          f"\"REX lamp{LIST_SEPARATOR}Oak table\" ({RECOMMENDATIONS_ROOT} | first: the likeliest "
                          "alone; empty until the contact is scored)", predicted=True))
    if draft is not None and draft.kind == "transactional":
        for raw in draft.event_fields:
            path = raw.rstrip("?")
            snippet = f'{{{{ event.{path} | default("") }}}}' if raw.endswith("?") else f"{{{{ event.{path} }}}}"
            found.append(Variable(f"event.{path}", snippet, "event payload field" + (" (optional)"
                                                                                   if raw.endswith("?") else "")))
    return found


def sample_event(event_fields: Sequence[str]) -> dict[str, Any]:
    """An event payload holding every declared field, each value showing its path (``‹order.number›``)."""
    event: dict[str, Any] = {}
    for raw in event_fields:
        path = raw.rstrip("?")
        *parents, leaf = path.split(".")
        node = event
        for part in parents:
            child = node.get(part)
            node[part] = child if isinstance(child, dict) else {}
            node = node[part]
        if not isinstance(node.get(leaf), dict):
            node[leaf] = f"‹{path}›"
    return event


def check(session: Session, draft: TemplateIn, *, contact_id: int | None = None) -> Check:
    """Validate ``draft`` as saving would, then render it for ``contact_id`` (or a contact with no data).

    Raises:
        NotFound: ``contact_id`` is not a contact.
    """
    result = Check(media=len(draft.media), reads_as=reads_as(draft.body, draft.language))
    used: set[str] = set()
    try:
        used = validate(draft.body, service.template_spec(session, draft))
    except ValidationFailed as exc:
        result.problems += exc.errors or [{"field": "body", "message": exc.detail}]
    try:
        check_media_urls(draft.media)
    except ValidationFailed as exc:
        result.problems.append({"field": (exc.errors or [{}])[0].get("field", "media"), "message": exc.detail})
    if any(p.get("field") == "body" for p in result.problems):
        return result
    request = PreviewIn(contact_id=contact_id, body=draft.body, language=draft.language, kind=draft.kind,
                        attributes=list(draft.attributes),
                        event=sample_event(draft.event_fields) if draft.kind == "transactional" else None)
    try:
        shown = preview.preview(session, request)
    except ValidationFailed as exc:  # renders past the message limit for this contact
        result.problems.append({"field": "body", "message": exc.detail})
        return result
    except NotFound:
        raise
    except Exception as exc:  # a value of this contact the template cannot use (prepare skips such contacts)
        result.problems.append({"field": "contact", "message": f"cannot be rendered for this contact: {exc}"})
        return result
    result.text = shown.text
    result.predictions = predictions_used(session, used, contact_id, draft.language)
    result.info = analyze(shown.text)
    result.ucs2_characters = ucs2_characters(shown.text)
    profile = get_profile(session)
    if draft.kind == "marketing":
        result.footer = appended_footer(shown.text, draft.language, profile.stop_number)
    rules = all_rules(shown.text, draft.language, profile, marketing=draft.kind == "marketing")
    result.brand = [r for r in rules if not r.passed]
    return result


def reads_as(body: str, language: str) -> str:
    """The supported language ``body`` clearly reads as when it is not ``language`` ("" when it is, or cannot be
    told: a message of a few words, a language the detector does not know). New templates start in the brand's
    language, so an English text saved as French went to English customers with the French opt-out line; the
    editor says so instead of changing the choice. Variables and tags are left out: their names are English."""
    if language not in SUPPORTED_LANGUAGES:
        return ""
    text = _TEMPLATE_SYNTAX.sub(" ", body)
    if len(clean_text(text).split()) <= SHORT_MESSAGE_WORDS:
        return ""
    found = detect_language(text, prior=language)
    return found.language if found.language != language and found.confidence >= READS_AS_CONFIDENCE else ""


def predictions_used(session: Session, used: set[str], contact_id: int | None, language: str) -> list[PredictionUse]:
    """For each prediction among the ``used`` variables, the value ``contact_id`` has stored (as the
    renderer gets it: ``intelligence.personalise``) as a message in ``language`` prints it, or ``None`` when the
    contact has none yet."""
    wanted = sorted(v for v in used if v == RECOMMENDATIONS_ROOT or v.startswith(f"{PREDICTION_ROOT}."))
    if not wanted:
        return []
    mine = template_values(session, [contact_id]).get(contact_id, TemplateValues()) if contact_id else TemplateValues()
    currency = shop_currency(session) if mine.prediction else ""
    found = []
    for name in wanted:
        if name == RECOMMENDATIONS_ROOT:
            found.append(PredictionUse(name, "products the contact is likely to buy next",
                                       ", ".join(mine.recommendations) or None))
            continue
        kind = name.split(".", 1)[1]
        value = mine.prediction.get(kind)
        found.append(PredictionUse(name, PREDICTION_KINDS[kind],
                                   None if value is None else prediction_words(kind, value, language, currency)))
    return found


def appended_footer(sent: str, language: str, stop_number: str) -> str:
    """The opt-out line ``with_footer`` appended to the marketing text ``sent``, or "" when it added none."""
    line = footer(language, stop_number)
    before = sent[: -len(line) - 1]
    return line if sent.endswith("\n" + line) and with_footer(before, language, stop_number) != before else ""
