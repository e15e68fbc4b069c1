"""Campaign preparation, streamed: segment → consent → frequency cap → A/B → schedule → render → queue.

One call of :func:`prepare_chunk` handles the next ``CHUNK`` contacts of the segment (keyset
pagination on the contact id) and inserts their ``Message`` rows (status ``queued``, lane
``marketing``, ``campaign_id``), each with its planned time: ``not_before`` from the schedule, the
recipient's window and the throttle (:mod:`campaigns.plan`), and ``wait_reason`` / ``wait_detail``
saying why it is later than now. The row is the truth; the send jobs registered to run after the
commit, one per planned time and batch, are only wake-up calls (the delivery authority decides
again at claim time). The
caller commits after each chunk, so memory stays flat and a crash resumes at ``campaign.cursor``
(message idempotency keys ``campaign:<id>:<run>:<contact>`` make a replayed chunk harmless).

Conflict policy when campaigns overlap: chunks of every campaign are prepared under one Redis
lock and the frequency cap counts every marketing message queued or sent to the contact in the
window, whichever campaign it came from; so a contact in two running campaigns gets the first
one prepared and the second only while the cap allows (skipped as ``frequency_cap``), and never
two messages from the same campaign run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, null, select
from sqlalchemy.orm import Session

from campaigns import abtest, adaptive, plan
from campaigns.brand import business_name as brand_business_name
from campaigns.brand import get_profile
from campaigns.links import Shortener, register_links
from campaigns.message_rows import insert_messages
from campaigns.models import Campaign, Template
from campaigns.send_time import Timing
from campaigns.shop_currency import shop_currency
from campaigns.templates import (
    PREDICTION_ROOT,
    RECOMMENDATIONS_ROOT,
    Compiled,
    contact_context,
    variable_roots,
    with_footer,
)
from channels.encoding import GSM7_BASIC, MULTI_SEGMENT, SINGLE_SEGMENT, analyze
from contacts.models import Contact
from conversations.flows import send_job
from conversations.models import Message
from core.queue import enqueue_after_commit
from core.settings import get_settings
from core.sql import among
from intelligence.personalise import TemplateValues, template_values

CHUNK = 5000
BATCH = 500
#: statuses that do not count against a frequency cap (never reached the phone)
NOT_DELIVERED = ("failed", "rejected", "expired", "dead")
_GSM_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
#: contact columns a template may read, by variable root
_OPTIONAL_COLUMNS = {"first_name": Contact.first_name, "name": Contact.name, "attributes": Contact.attributes}


def encoding_and_segments(text: str) -> tuple[str, int]:
    """``channels.encoding.analyze`` with a fast path for basic-table GSM-7 texts (most campaigns).

    A text made only of GSM basic characters costs one septet per character, so its segment count
    follows from its length; ``analyze`` walks every character in Python, which dominated the
    preparation of large campaigns.
    """
    if set(text) <= _GSM_BASIC:
        n = len(text)
        return "GSM-7", 1 if n <= SINGLE_SEGMENT["GSM-7"] else -(-n // MULTI_SEGMENT["GSM-7"])
    info = analyze(text)
    return info.encoding, info.segments


@dataclass(frozen=True)
class ChunkResult:
    done: bool
    queued: int
    seen: int = 0  # contacts of the segment this chunk went through


@dataclass
class _Arm:
    name: str
    template: Template
    compiled: Compiled
    translations: dict[str, tuple[Template, Compiled]]
    campaign_media: list[dict[str, Any]]




def audience_select(session: Session, campaign: Campaign) -> Select[Any]:
    """The contacts ``campaign`` targets before consent and caps (its saved segment, inline rules or everyone)."""
    from contacts import segments

    if campaign.segment_id is not None:
        return segments.contact_ids(session, campaign.segment_id).order_by(None)
    if not campaign.segment:
        return select(Contact.id).where(Contact.erased.is_(False))
    return segments.compile_segment(campaign.segment).order_by(None)


def _arms(session: Session, campaign: Campaign) -> dict[str, _Arm]:
    def compiled(template_id: int) -> tuple[Template, Compiled]:
        template = session.get(Template, template_id)
        if template is None:
            raise LookupError(f"template {template_id} is gone")
        return template, Compiled(template.body, template.language)

    translations = {lang: compiled(tid) for lang, tid in campaign.translations.items()}
    ab_arms = campaign.ab.get("arms") if campaign.ab else None
    specs = [(a["name"], int(a["template_id"])) for a in ab_arms] if ab_arms else [("", campaign.template_id)]
    arms = {}
    for name, template_id in specs:
        template, comp = compiled(template_id)
        # translations apply to the single-template campaign; A/B arms compare templates as written
        arms[name] = _Arm(name, template, comp, translations if not ab_arms else {}, campaign.media)
    return arms


def capped_contacts(session: Session, campaign: Campaign, ids: Sequence[int], now: datetime) -> set[int]:
    """Which of ``ids`` already had the campaign's frequency cap of marketing texts in its window."""
    if campaign.frequency_cap <= 0:
        return set()
    since = now - timedelta(days=campaign.frequency_days)
    capped: set[int] = set()
    dialect = session.get_bind().dialect.name
    # in slices: a whole audience (the planner's forecast of 100,000 contacts) would pass SQLite's
    # bound parameters in one IN list (PostgreSQL takes the slice as one array)
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        rows = session.execute(
            select(Message.contact_id, func.count())
            .where(among(Message.contact_id, part, dialect), Message.lane == "marketing", Message.direction == "out",
                   Message.created_at >= since, Message.status.not_in(NOT_DELIVERED))
            .group_by(Message.contact_id)
        )
        capped.update(cid for cid, n in rows if n >= campaign.frequency_cap)
    return capped


def prepare_chunk(session: Session, campaign: Campaign, *, now: datetime, chunk: int = CHUNK) -> ChunkResult:
    """Prepare the next ``chunk`` contacts of ``campaign``'s current phase; flush only.

    ``campaign.phase`` is ``main`` (everyone, or the A/B test group) or ``holdout`` (the rest of an
    A/B test, with the winning arm). Returns whether the phase is finished and how many messages
    were queued.
    """
    from contacts.consent import consent_verdicts

    ids = list(session.scalars(
        audience_select(session, campaign).where(Contact.id > campaign.cursor).order_by(Contact.id).limit(chunk)
    ))
    if not ids:
        return ChunkResult(done=True, queued=0)
    skipped: dict[str, int] = defaultdict(int)
    blocked = consent_verdicts(session, ids, "marketing")  # excluded contacts, counted by reason
    for reason in blocked.values():
        skipped[reason] += 1
    wanted = [i for i in ids if i not in blocked]
    arms = _arms(session, campaign)
    ab = campaign.ab if campaign.ab and not adaptive.is_adaptive(campaign) else None
    if ab:  # before the cap: the test group's own messages must not count as "capped" in the holdout phase
        holdout = campaign.phase == "holdout"
        in_phase = [i for i in wanted if abtest.in_test_group(ab, campaign.id, i) != holdout]
        skipped["holdout" if not holdout else "test_group"] += len(wanted) - len(in_phase)
        wanted = in_phase
    capped = capped_contacts(session, campaign, wanted, now) if wanted else set()
    skipped["frequency_cap"] += len(capped)
    wanted = [i for i in wanted if i not in capped]
    roots = set().union(*(variable_roots(a.template.body) for a in arms.values()),
                        *(variable_roots(t.body) for a in arms.values() for t, _ in a.translations.values()))
    optional = [column if name in roots else null().label(name) for name, column in _OPTIONAL_COLUMNS.items()]
    rows = session.execute(
        select(Contact.id, Contact.language, Contact.country, Contact.timezone, *optional)
        .where(among(Contact.id, wanted, session.get_bind().dialect.name), Contact.opted_out.is_(False),
               Contact.erased.is_(False))
        .order_by(Contact.id)
    ).all()
    skipped["opted_out"] += len(wanted) - len(rows)
    adaptive_arms: dict[int, str] | None = None
    if adaptive.is_adaptive(campaign):  # this chunk is one batch: the bandit splits it, the control gets nothing
        chosen = adaptive.allocate(session, campaign, [row[0] for row in rows], now=now)
        adaptive_arms = {contact_id: arm for contact_id, arm in chosen.items() if arm is not None}
        skipped["control"] += len(chosen) - len(adaptive_arms)
        rows = [row for row in rows if row[0] in adaptive_arms]
    settings = get_settings()
    brand = get_profile(session)
    shortener = Shortener.from_settings()
    links: dict[int, dict[str, int]] = {}
    planner = plan.Planner(campaign)
    timing = Timing.load(session, campaign, [row[0] for row in rows], now=now,
                         audience=audience_select(session, campaign))
    slots: dict[tuple[str | None, str], plan.Slot] = {}
    records: list[dict[str, Any]] = []
    when: list[plan.Slot] = []
    # plain locals: ORM attribute access inside the loop cost more than the rendering
    campaign_id, run, sender = campaign.id, campaign.run, campaign.sender
    phase, winner = campaign.phase, campaign.ab_winner
    business_name, stop_number, author_id = brand_business_name(session, settings), brand.stop_number, str(campaign.id)
    plain = {name: (arm.template.id, arm.template.language, arm.campaign_media or arm.template.media)
             for name, arm in arms.items()}
    predicted = (template_values(session, [row[0] for row in rows])
                 if roots & {PREDICTION_ROOT, RECOMMENDATIONS_ROOT} else {})  # one query per batch, when read
    currency = shop_currency(session) if PREDICTION_ROOT in roots else ""  # predicted amounts print with it
    nothing = TemplateValues()
    for contact_id, language, country, tz, first_name, name, attributes in rows:
        if adaptive_arms is not None:
            arm = arms[adaptive_arms[contact_id]]
        elif ab and phase == "holdout":
            arm = arms[winner]
        elif ab:
            arm = arms[str(abtest.assign_arm(ab["arms"], campaign_id, contact_id)["name"])]
        else:
            arm = arms[""]
        template_id, template_language, media = plain[arm.name]
        compiled = arm.compiled
        if arm.translations and language in arm.translations:
            translated, compiled = arm.translations[language]
            template_id, template_language = translated.id, translated.language
            media = arm.campaign_media or translated.media
        mine = predicted.get(contact_id, nothing)
        context = contact_context(first_name=first_name, name=name, language=language, country=country,
                                  timezone=tz, attributes=attributes, business_name=business_name,
                                  prediction=mine.prediction, recommendations=mine.recommendations,
                                  currency=currency)
        try:
            text = compiled.render(context)
        except Exception:  # a value of an unexpected type for this contact: skip them, not the campaign
            skipped["render_error"] += 1
            continue
        text = with_footer(text, template_language, stop_number)
        if template_id not in links:
            links[template_id] = register_links(session, campaign_id=campaign_id, source=compiled.source)
        text = shortener.rewrite(text, links[template_id], contact_id)
        encoding, segments = encoding_and_segments(text)
        records.append({
            "contact_id": contact_id, "direction": "out", "body": text, "media": media,
            "sender": sender, "status": "queued", "lane": "marketing", "author_type": "campaign",
            "author_id": author_id, "campaign_id": campaign_id,
            "idempotency_key": f"campaign:{campaign_id}:{run}:{contact_id}",
            "encoding": encoding, "segments": 1 if media else segments,
            "analysis": {"ab_arm": arm.name} if arm.name else {}, "created_at": now,
        })
        if arm.translations:  # which of the translations this recipient got (an arm's template is the arm's own)
            records[-1]["analysis"]["template_id"] = template_id
        if timing is not None:  # best time: the recipient's own moment in the window, and why
            slot, mark = timing.slot(contact_id, tz, country, now=now)
            records[-1]["analysis"] = {**records[-1]["analysis"], **mark}
            when.append(slot)
            continue
        key = (tz, country)
        if key not in slots:  # the same zone and country always give the same moment in a chunk
            slots[key] = planner.first_send(timezone=tz, country=country, now=now)
        when.append(slots[key])
    queued = 0
    if records:
        _plan(session, campaign, records, when, now)
        message_ids = insert_messages(session, records)  # one statement on PostgreSQL (campaigns.message_rows)
        queue_wakeups(session, message_ids, [r["not_before"] for r in records], now)
        queued = len(message_ids)
    campaign.cursor = ids[-1]
    campaign.prepared += queued
    totals = dict(campaign.skipped)
    for reason, n in skipped.items():
        if n:
            totals[reason] = totals.get(reason, 0) + n
    campaign.skipped = totals
    session.flush()
    return ChunkResult(done=len(ids) < chunk, queued=queued, seen=len(ids))


def _plan(session: Session, campaign: Campaign, records: list[dict[str, Any]], slots: list[plan.Slot],
          now: datetime) -> None:
    """Write each record's ``not_before`` and wait reason: its window's opening, then the throttle."""
    throttle = plan.Throttle.load(session, campaign, now=now) if campaign.throttle_per_minute else None
    for i in sorted(range(len(records)), key=lambda i: slots[i].at):  # send order: earliest window first
        slot = slots[i]
        due, wait = slot.at, slot.wait
        if throttle is not None:
            due = throttle.book(slot.at)
            if due > slot.at:
                wait = plan.throttled(due, campaign.timezone)
        records[i]["not_before"] = due
        records[i]["wait_reason"] = wait.code if wait else ""
        records[i]["wait_detail"] = wait.detail if wait else ""


def queue_wakeups(session: Session, message_ids: list[int], due: list[datetime], now: datetime) -> None:
    """One send job per planned time and ``BATCH`` ids, delayed to that time (due now: at once).

    The jobs only wake the engine up; the rows' ``not_before`` is what the claim honours. A later wake-up's
    id names its time: a resume re-plans the same ids for a new time while the preparation's wake-up for the
    old one may still wait in Redis, and one id would keep only the old job, which claims nothing then.
    """
    groups: dict[datetime, list[int]] = defaultdict(list)
    for message_id, at in zip(message_ids, due, strict=True):
        groups[at].append(message_id)
    for at in sorted(groups):
        ids = groups[at]
        later = at > now  # an early wake-up would claim nothing and leave the row to recovery
        for i in range(0, len(ids), BATCH):
            enqueue_after_commit(session, send_job(ids[i:i + BATCH], lane="marketing", at=at.astimezone(UTC) if later
                                                   else None, attempt=int(at.timestamp()) if later else 0))
