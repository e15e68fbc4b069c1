"""Template preview: the text a contact would get, its encoding and segments, recipients and cost.

With a segment, the preview counts the contacts it matches (``recipients``), those the consent
policy excludes on the template's lane, by reason (``excluded``: ``no_consent``, ``opted_out``,
``suppressed``, ``invalid_number``, ``erased``; see ``contacts.consent.consent_verdicts``), and
the rest (``sendable``). Frequency caps and send windows apply when a campaign is prepared and show
in its report.

The cost is an estimate for the sendable recipients: the average price per segment the provider
actually charged over the last 30 days (``Message.price_micros`` from delivery reports), or
``DEFAULT_SEGMENT_PRICE_MICROS`` before any report arrived.

:func:`estimate` is the campaign wizard's review of a draft before it is scheduled: its audience
as preparation will select it (consent and frequency cap, by reason), each template's text,
encoding and segments, the planned send distribution (``campaigns.plan.distribution``) and the cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import abtest, adaptive, plan, service
from campaigns.brand import business_name, get_profile
from campaigns.links import URL_PATTERN, Shortener
from campaigns.models import Campaign
from campaigns.prepare import audience_select, capped_contacts
from campaigns.schemas import PreviewIn, PreviewOut, TemplateIn
from campaigns.send_time import Timing
from campaigns.shop_currency import shop_currency
from campaigns.templates import (
    CONTACT_FIELDS,
    PREDICTION_ROOT,
    RECOMMENDATIONS_ROOT,
    Compiled,
    contact_context,
    validate,
    variable_roots,
    with_footer,
)
from channels.encoding import analyze
from contacts.consent import consent_verdicts, exclusion_counts
from contacts.models import Contact
from conversations.models import Message
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings
from core.sql import among
from core.words import counted
from intelligence.personalise import TemplateValues, template_values

_ID_CHUNK = 5000
#: 0.05 of the account currency per segment, until real prices are known
DEFAULT_SEGMENT_PRICE_MICROS = 50_000


@dataclass(frozen=True)
class Price:
    """The price of one segment used for estimates, and where it comes from (``segments`` priced
    segments seen over the last 30 days; 0: none, the default applies)."""

    micros: int
    segments: int

    @property
    def basis(self) -> str:
        if not self.segments:
            return "default price: no delivery report has carried a provider price in the last 30 days"
        return f"average provider price of the {counted(self.segments, 'segment')} priced in the last 30 days"


def segment_price(session: Session) -> Price:
    """The average price of one segment over the last 30 days of priced messages (the default before any)."""
    since = utcnow() - timedelta(days=30)
    total, segments = session.execute(
        select(func.sum(Message.price_micros), func.sum(Message.segments))
        .where(Message.price_micros.is_not(None), Message.direction == "out", Message.created_at >= since)
    ).one()
    if not total or not segments:
        return Price(DEFAULT_SEGMENT_PRICE_MICROS, 0)
    return Price(int(total / segments), int(segments))


def segment_price_micros(session: Session) -> int:
    """The average price of one segment over the last 30 days of priced messages."""
    return segment_price(session).micros


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
        draft = TemplateIn(name="preview", body=body, language=language, kind=kind, attributes=data.attributes,
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
        mine = template_values(session, [contact.id]).get(contact.id, TemplateValues())  # as a send renders
        context = contact_context(first_name=contact.first_name, name=contact.name, language=contact.language,
                                  country=contact.country, timezone=contact.timezone, attributes=contact.attributes,
                                  business_name=business_name(session, settings), event=data.event,
                                  prediction=mine.prediction, recommendations=mine.recommendations,
                                  currency=shop_currency(session) if mine.prediction else "")
    else:
        context = contact_context(first_name=None, name=None, language=language, country=None, timezone=None,
                                  attributes={}, business_name=business_name(session, settings), event=data.event)
    text = Compiled(body, language).render(context)
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


@dataclass(frozen=True)
class Audience:
    """Who a campaign would text now: contacts its segment matches, those left out by reason
    (the consent reasons of ``contacts.consent`` and ``frequency_cap``), and the rest as
    (contact id, time zone, country)."""

    matched: int
    excluded: dict[str, int]
    recipients: list[tuple[int, str | None, str | None]]
    #: every contact the segment matches (an adaptive campaign's batches are cut from them in id order)
    matched_ids: list[int] = field(default_factory=list)

    @property
    def sendable(self) -> int:
        return len(self.recipients)


def audience(session: Session, campaign: Campaign, *, now: datetime) -> Audience:
    """The recipients of ``campaign`` (saved or not) with preparation's own selection, consent and cap."""
    ids = list(session.scalars(audience_select(session, campaign)))
    blocked = consent_verdicts(session, ids, "marketing")
    excluded = dict(Counter(blocked.values()))
    wanted = [i for i in ids if i not in blocked]
    capped = capped_contacts(session, campaign, wanted, now) if wanted else set()
    if capped:
        excluded["frequency_cap"] = len(capped)
    keep = [i for i in wanted if i not in capped]
    recipients: list[tuple[int, str | None, str | None]] = []
    for start in range(0, len(keep), _ID_CHUNK):
        recipients.extend((contact_id, tz, country) for contact_id, tz, country in session.execute(
            select(Contact.id, Contact.timezone, Contact.country)
            .where(among(Contact.id, keep[start:start + _ID_CHUNK], session.get_bind().dialect.name))
        ))
    return Audience(len(ids), excluded, recipients, ids)


#: recipients whose own texts size a personalised template's messages (the first, in contact order)
SIZED_RECIPIENTS = 20
#: what a template reads per contact: for a contact with no data it is shorter than anyone's real text
_PERSONAL = frozenset({*CONTACT_FIELDS, "attributes", PREDICTION_ROOT, RECOMMENDATIONS_ROOT})


def sized(session: Session, template_id: int, shown: PreviewOut, recipients: Sequence[int]) -> float:
    """Segments per message of ``template_id``: for a template reading the contact (name, attributes, predictions),
    the mean over the first :data:`SIZED_RECIPIENTS` ``recipients``' own texts (one this contact cannot render is
    skipped, as preparation skips them); otherwise, or with nobody to text, ``shown``'s, the sample contact's.

    The wizard priced every message at the size of a contact with no name and no predictions: walking the demo, a
    template naming each customer's expected spend and recommended product read "1 segment per message" and its
    cost, while most customers' texts took 2."""
    if not recipients or not variable_roots(service.get_template(session, template_id).body) & _PERSONAL:
        return float(shown.segments)
    sizes = []
    for contact_id in recipients[:SIZED_RECIPIENTS]:
        try:
            asked = PreviewIn.model_validate({"template_id": template_id, "contact_id": contact_id})
            sizes.append(preview(session, asked).segments)
        except Exception:  # a value this contact's text cannot use: preparation skips them (render_error)
            continue
    return sum(sizes) / len(sizes) if sizes else float(shown.segments)


@dataclass(frozen=True)
class Estimate:
    """The wizard's review of a draft: audience, each template as sent (``messages``: arm name, or
    "" without A/B → its preview for a sample contact), the planned distribution and the cost.

    The cost counts each recipient's message at its template's segments: the A/B test group by the
    arms' weights, the rest at the cheapest (``cost_low_micros``) or dearest
    (``cost_high_micros``) arm, as the winner is not known yet; both are equal without A/B. An
    adaptive test's control gets no message, and everyone else is counted at the cheapest or dearest. Each arm's
    segments per message are ``segments`` (:func:`sized`: its recipients' own texts when it is personalised).
    """

    audience: Audience
    messages: list[tuple[str, PreviewOut]]
    distribution: plan.Distribution
    price: Price
    cost_low_micros: int
    cost_high_micros: int
    segments: list[float]


def estimate(session: Session, campaign: Campaign, *, start: datetime, now: datetime) -> Estimate:
    """Review ``campaign`` (a draft, saved or only built from a form) as if it started at ``start``.

    Raises:
        NotFound: a template or segment is gone. ValidationFailed: a template no longer validates,
            or the delivery window is empty.
    """
    found = audience(session, campaign, now=now)
    arms = (campaign.ab or {}).get("arms") or []
    specs = [(str(a["name"]), int(a["template_id"]), float(a.get("weight", 1))) for a in arms] if arms \
        else [("", campaign.template_id, 1.0)]
    messages = [(name, preview(session, PreviewIn.model_validate({"template_id": template_id})))
                for name, template_id, _ in specs]
    price = segment_price(session)
    first = [contact_id for contact_id, _, _ in found.recipients[:SIZED_RECIPIENTS]]
    sizes = [sized(session, template_id, m, first) for (_, template_id, _), (_, m) in zip(specs, messages, strict=True)]
    total_weight = sum(w for _, _, w in specs) or 1.0
    mixed = sum(w * n for (_, _, w), n in zip(specs, sizes, strict=True)) / total_weight
    bandit = adaptive.is_adaptive(campaign)
    tested = 0 if bandit else sum(1 for contact_id, _, _ in found.recipients
                                  if not arms or abtest.in_test_group(campaign.ab, campaign.id or 0, contact_id))
    rest = found.sendable - tested
    batches = None
    if bandit:  # the control gets no message; where the bandit sends the rest is not known yet
        batches = adaptive.planned_batches(campaign, found.matched_ids, [r[0] for r in found.recipients])
        rest = len(batches)
    low = round(price.micros * (tested * mixed + rest * min(sizes)))
    high = round(price.micros * (tested * mixed + rest * max(sizes)))
    timing = Timing.load(session, campaign, [r[0] for r in found.recipients], now=start,
                         audience=audience_select(session, campaign))
    spread = plan.distribution(campaign, found.recipients, start=start, timing=timing, batches=batches)
    return Estimate(found, messages, spread, price, low, high, sizes)
