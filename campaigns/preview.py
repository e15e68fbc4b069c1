"""Template preview: the text a contact would get, its encoding and segments, recipients and cost.

With a segment, the preview counts the contacts it matches (``recipients``), those the consent
policy excludes on the template's lane, by reason (``excluded``: ``no_consent``, ``opted_out``,
``suppressed``, ``invalid_number``, ``erased``; see ``contacts.consent.consent_verdicts``), and
the rest (``sendable``). Frequency caps and send windows apply when a campaign is prepared and show
in its report.

The cost is an estimate for the sendable recipients: the average price per segment the provider
actually charged over the last 30 days (``Message.price_micros`` from delivery reports), or
``DEFAULT_SEGMENT_PRICE_MICROS`` before any report arrived.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import service
from campaigns.brand import business_name, get_profile
from campaigns.links import URL_PATTERN, Shortener
from campaigns.schemas import PreviewIn, PreviewOut, TemplateIn
from campaigns.templates import Compiled, contact_context, validate, with_footer
from channels.encoding import analyze
from contacts.consent import exclusion_counts
from contacts.models import Contact
from conversations.models import Message
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings

#: 0.05 of the account currency per segment, until real prices are known
DEFAULT_SEGMENT_PRICE_MICROS = 50_000


def segment_price_micros(session: Session) -> int:
    """The average price of one segment over the last 30 days of priced messages."""
    since = utcnow() - timedelta(days=30)
    total, segments = session.execute(
        select(func.sum(Message.price_micros), func.sum(Message.segments))
        .where(Message.price_micros.is_not(None), Message.direction == "out", Message.created_at >= since)
    ).one()
    if not total or not segments:
        return DEFAULT_SEGMENT_PRICE_MICROS
    return int(total / segments)


def preview(session: Session, data: PreviewIn) -> PreviewOut:
    """Render a saved template (``template_id``) or a draft ``body`` for ``contact_id`` (or a sample).

    Raises:
        NotFound: unknown template or contact. ValidationFailed: neither template nor body, or an
            invalid body.
    """
    if data.template_id is not None:
        template = service.get_template(session, data.template_id)
        body, language, kind = template.body, template.language, template.kind
        spec = service.template_spec(session, template)
    elif data.body:
        body, language, kind = data.body, data.language or "en", data.kind or "marketing"
        draft = TemplateIn(name="preview", body=body, language=language, kind=kind,
                           event_fields=sorted(_paths(data.event or {})))
        spec = service.template_spec(session, draft)
    else:
        raise ValidationFailed("give a template_id or a body", errors=[{"field": "body", "message": "missing"}])
    validate(body, spec)
    settings = get_settings()
    contact_id = 0
    if data.contact_id is not None:
        contact = session.get(Contact, data.contact_id)
        if contact is None:
            raise NotFound(f"contact {data.contact_id} not found")
        contact_id = contact.id
        context = contact_context(first_name=contact.first_name, name=contact.name, language=contact.language,
                                  country=contact.country, timezone=contact.timezone, attributes=contact.attributes,
                                  business_name=business_name(session, settings), event=data.event)
    else:
        context = contact_context(first_name=None, name=None, language=language, country=None, timezone=None,
                                  attributes={}, business_name=business_name(session, settings), event=data.event)
    text = Compiled(body).render(context)
    if kind == "marketing":
        text = with_footer(text, language, get_profile(session).stop_number)
    # a preview registers no link: URLs are measured with a placeholder code of the real length
    links = {url: 0 for url in dict.fromkeys(URL_PATTERN.findall(body))}
    text = Shortener.from_settings().rewrite(text, links, contact_id)
    info = analyze(text)
    price = segment_price_micros(session) * info.segments
    recipients = sendable = excluded = None
    if data.segment_id is not None or data.segment is not None:
        from contacts import segments

        rules = segments.get(session, data.segment_id).rules if data.segment_id is not None else data.segment or {}
        matched = segments.validated(session, rules) if rules else select(Contact.id).where(Contact.erased.is_(False))
        ids = list(session.scalars(matched.order_by(None)))
        excluded = exclusion_counts(session, ids, "marketing" if kind == "marketing" else "transactional")
        recipients, sendable = len(ids), len(ids) - sum(excluded.values())
    return PreviewOut(text=text, encoding=info.encoding, segments=info.segments, characters=info.characters,
                      recipients=recipients, sendable=sendable, excluded=excluded, cost_per_message_micros=price,
                      estimated_cost_micros=None if sendable is None else sendable * price)


def _paths(data: dict[str, object], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        found.add(path)
        if isinstance(value, dict):
            found |= _paths(value, path + ".")
    return found
