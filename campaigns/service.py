"""Templates and campaigns: creation, validation, state changes (database work only, flush-only).

State machine of a campaign: ``draft`` → ``scheduled`` (waiting for its time) → ``preparing``
(messages being built in chunks) → ``running`` (messages queued, sending) → ``completed``;
``paused`` can be entered from preparing/running and left with resume; ``cancelled`` is final.
A recurring campaign goes back to ``scheduled`` after each completed run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns import scheduling
from campaigns.links import URL_PATTERN
from campaigns.models import Campaign, Conversion, EventTemplate, Template
from campaigns.schemas import CampaignIn, ConversionIn, ScheduleIn, TemplateIn
from campaigns.templates import TemplateSpec, validate
from conversations.models import Message
from core import revocations
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed

AB_METRICS = ("clicks", "replies", "conversions")


def declared_attributes(session: Session) -> list[str]:
    """Attribute names declared in the contacts schema (``contacts.models.AttributeDefinition``)."""
    from contacts.models import AttributeDefinition

    return list(session.scalars(select(AttributeDefinition.name)))


def template_spec(session: Session, template: Template | TemplateIn) -> TemplateSpec:
    return TemplateSpec(attributes=[*declared_attributes(session), *template.attributes],
                        event_fields=list(template.event_fields))


def save_template(session: Session, data: TemplateIn, template: Template | None = None) -> Template:
    """Validate and store a template (new, or ``template`` updated); raises ``ValidationFailed``."""
    validate(data.body, template_spec(session, data))
    if template is None:
        template = Template()
        session.add(template)
    for key, value in data.model_dump().items():
        setattr(template, key, value)
    session.flush()
    return template


def get_template(session: Session, template_id: int) -> Template:
    found = session.get(Template, template_id)
    if found is None:
        raise NotFound(f"template {template_id} not found")
    return found


def template_users(session: Session, template_id: int) -> list[str]:
    """What sends ``template_id``: campaigns (main, translation or A/B arm) and transactional events."""
    users = [f"campaign “{name}”" for name, main, translations, ab in session.execute(
        select(Campaign.name, Campaign.template_id, Campaign.translations, Campaign.ab).order_by(Campaign.id))
        if template_id == main or template_id in (translations or {}).values()
        or any(arm.get("template_id") == template_id for arm in (ab or {}).get("arms", []))]
    users += [f"event “{event}” ({language})" for event, language in session.execute(
        select(EventTemplate.event_type, EventTemplate.language).where(EventTemplate.template_id == template_id))]
    return users


def delete_template(session: Session, template: Template) -> None:
    """Delete a template nothing sends; raises ``Conflict`` naming the campaigns and events that use it."""
    users = template_users(session, template.id)
    if users:
        raise Conflict(f"template “{template.name}” is used by {', '.join(users[:5])}"
                       f"{f' and {len(users) - 5} more' if len(users) > 5 else ''}; it cannot be deleted")
    session.delete(template)
    session.flush()


def get_campaign(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return found


def _check_ab(session: Session, ab: dict[str, Any]) -> None:
    if not ab:
        return
    arms = ab.get("arms") or []
    problems = []
    if len(arms) < 2:
        problems.append("an A/B test needs at least two arms")
    names = [a.get("name") for a in arms]
    if len(set(names)) != len(names) or not all(names):
        problems.append("arm names must be present and distinct")
    for arm in arms:
        if not isinstance(arm.get("template_id"), int) or session.get(Template, arm["template_id"]) is None:
            problems.append(f"arm {arm.get('name')!r}: template {arm.get('template_id')!r} not found")
        if float(arm.get("weight", 1)) <= 0:
            problems.append(f"arm {arm.get('name')!r}: weight must be positive")
    fraction = float(ab.get("test_fraction", 0.2))
    if not 0 < fraction <= 1:
        problems.append("test_fraction must be in (0, 1]")
    if ab.get("metric", "clicks") not in AB_METRICS:
        problems.append(f"metric must be one of {', '.join(AB_METRICS)}")
    if float(ab.get("winner_after_hours", 4)) < 0:
        problems.append("winner_after_hours must be >= 0")
    if problems:
        raise ValidationFailed("; ".join(problems), errors=[{"field": "ab", "message": p} for p in problems])


def unclickable_arms(session: Session, ab: dict[str, Any]) -> list[str]:
    """The arms of a test on clicks whose template has no link, in sentences: nobody can click them, so their
    clicks stay 0 and the test can only favour the others (walking the console, an adaptive test on clicks between
    a text with a link and one without said nothing; only links written in a template are tracked). Advice, not a
    refusal: a test may mean to learn that a text without a link does worse."""
    if not ab or ab.get("metric", "clicks") != "clicks":
        return []
    return [f"Arm {arm.get('name')}'s template “{template.name}” has no link, so no one can click it: its clicks stay "
            "0 and the test can only favour the other arms. Measure replies or conversions, or add a link to it."
            for arm in ab.get("arms") or [] if isinstance(arm.get("template_id"), int)
            and (template := session.get(Template, arm["template_id"])) is not None
            and not URL_PATTERN.search(template.body)]  # fmt: skip


def check_campaign(session: Session, data: CampaignIn) -> None:
    """Raise ``ValidationFailed``/``NotFound`` for bad references, times, recurrence or A/B arms."""
    get_template(session, data.template_id)
    for template_id in data.translations.values():
        get_template(session, template_id)
    quiet_start = scheduling.parse_hhmm(data.quiet_start, field="quiet_start")
    quiet_end = scheduling.parse_hhmm(data.quiet_end, field="quiet_end")
    if quiet_end >= quiet_start:  # the window is quiet_end..quiet_start the same day: it would never open
        raise ValidationFailed(
            f"the delivery window {data.quiet_end}-{data.quiet_start} is empty: quiet hours end before they start",
            errors=[{"field": "quiet_start", "message": "must be later than quiet_end"}])
    scheduling.validate_recurrence(data.recurrence)
    _check_ab(session, data.ab)
    if data.segment_id is not None:
        from contacts.models import Segment

        if session.get(Segment, data.segment_id) is None:
            raise NotFound(f"segment {data.segment_id} not found")


def create_campaign(session: Session, data: CampaignIn, *, created_by: str) -> Campaign:
    """A draft campaign; raises ``ValidationFailed``/``NotFound`` for bad references."""
    check_campaign(session, data)
    campaign = Campaign(**data.model_dump(), created_by=created_by)
    session.add(campaign)
    session.flush()
    return campaign


def update_draft(
    session: Session, campaign: Campaign, data: CampaignIn, *, planned: ScheduleIn | None = None
) -> Campaign:
    """Change a draft (the console's wizard saves as the marketer goes); checked as on creation.

    ``planned`` is kept as the draft's intended start (``send_at``, or ``local_time`` on
    ``local_date``, in ``timezone``); nothing is scheduled until :func:`schedule`.

    Raises:
        Conflict: the campaign is no longer a draft. ValidationFailed, NotFound: as :func:`create_campaign`.
    """
    if campaign.status != "draft":
        raise Conflict(f"campaign {campaign.id} is {campaign.status}; only a draft can be edited")
    check_campaign(session, data)
    for key, value in data.model_dump().items():
        setattr(campaign, key, value)
    if planned is not None:
        campaign.send_at = planned.send_at.astimezone(UTC) if planned.send_at else None
        campaign.local_time, campaign.local_date = planned.local_time, planned.local_date
    session.flush()
    return campaign


def schedule(session: Session, campaign: Campaign, data: ScheduleIn, *, now: datetime | None = None) -> Campaign:
    """Set when the campaign starts: now, at ``send_at``, or at a local wall-clock time per contact.

    A recurring campaign (``recurrence`` set) starts at its first occurrence after ``send_at``/now.

    Raises:
        ValidationFailed: naming the field, for a ``send_at`` more than ``scheduling.PAST_TOLERANCE`` ago, a
            ``local_date`` before today in the campaign's zone or a best-time window that has ended
            (``scheduling.passed``): they started the campaign at once, the date given meant otherwise.
        Conflict: the campaign is neither a draft nor scheduled.
    """
    if campaign.status not in ("draft", "scheduled"):
        raise Conflict(f"campaign {campaign.id} is {campaign.status}; only a draft or scheduled one can be scheduled")
    now = now or utcnow()
    tz = scheduling.zone(data.timezone or campaign.timezone)
    campaign.timezone = tz.key
    if data.local_time:
        scheduling.parse_hhmm(data.local_time, field="local_time")
        try:
            day = date.fromisoformat(data.local_date)
        except ValueError:
            raise ValidationFailed("local_date must be YYYY-MM-DD with local_time",
                                   errors=[{"field": "local_date", "message": "expected YYYY-MM-DD"}]) from None
        _refuse_passed(day, "local_date", now=now, tz=tz, instead=", or send now (an empty body)")
        campaign.local_time, campaign.local_date = data.local_time, data.local_date
        # start early enough for the easternmost zone (UTC+14) to reach its local time
        start = datetime.combine(day, scheduling.parse_hhmm(data.local_time)).replace(tzinfo=UTC) - timedelta(hours=14)
        campaign.send_at = max(start, now)
    else:
        campaign.local_time = campaign.local_date = ""
        send_at = data.send_at.astimezone(UTC) if data.send_at else now
        _refuse_passed(send_at, "send_at", now=now, tz=tz, instead=", or send now (no send_at)")
        campaign.send_at = send_at
    if campaign.send_time:
        end = datetime.fromisoformat(str(campaign.send_time.get("end", ""))).replace(tzinfo=tz)
        _refuse_passed(end, "send_time.end", now=now, tz=tz, what="best-time window")
    if campaign.recurrence:
        first = scheduling.next_occurrence(campaign.recurrence, after=campaign.send_at - timedelta(seconds=1),
                                           tz=tz, start=campaign.send_at)
        if first is None:
            raise ValidationFailed("the recurrence has no occurrence after the start")
        campaign.next_run_at = first
    else:
        campaign.next_run_at = campaign.send_at
    campaign.status = "scheduled"
    session.flush()
    return campaign


def _refuse_passed(moment: datetime | date, field: str, *, now: datetime, tz: ZoneInfo, what: str = "",
                   instead: str = "") -> None:
    why = scheduling.passed(moment, now=now, tz=tz, what=what)
    if why:
        raise ValidationFailed(f"{field}: {why}{instead}", errors=[{"field": field, "message": why + instead}])


def record_conversion(
    session: Session, campaign: Campaign, data: ConversionIn, *, source: str
) -> tuple[Conversion, bool]:
    """Attribute a conversion (an order...) to the campaign; a repeated ``reference`` is not counted twice.

    Returns ``(conversion, created)``. A known contact also gets a ``purchased`` engagement event.
    """
    from contacts.models import Contact, EngagementEvent

    found = session.scalar(select(Conversion).where(Conversion.campaign_id == campaign.id,
                                                    Conversion.reference == data.reference))
    if found is not None:
        return found, False
    if data.contact_id is not None and session.get(Contact, data.contact_id) is None:
        raise NotFound(f"contact {data.contact_id} not found")
    conversion = Conversion(campaign_id=campaign.id, contact_id=data.contact_id, reference=data.reference,
                            value_micros=data.value_micros, source=source)
    session.add(conversion)
    if data.contact_id is not None:
        session.add(EngagementEvent(contact_id=data.contact_id, kind="purchased", ref=f"campaign:{campaign.id}"))
    session.flush()
    return conversion, True


def pause(session: Session, campaign: Campaign) -> Campaign:
    """Pause; the authority holds its messages at their claim, and a revocation marker written after the
    commit holds those the sending lanes already claimed (:mod:`core.revocations`)."""
    if campaign.status not in ("preparing", "running", "scheduled"):
        raise Conflict(f"campaign {campaign.id} is {campaign.status}; it cannot be paused")
    campaign.status = "paused"
    session.flush()
    revocations.revoke_campaign_after_commit(session, campaign.id)
    return campaign


def resume(session: Session, campaign: Campaign) -> Campaign:
    """Back to work: preparation continues from its cursor, queued messages are released again."""
    if campaign.status != "paused":
        raise Conflict(f"campaign {campaign.id} is {campaign.status}, not paused")
    if campaign.phase in ("main", "holdout"):
        campaign.status = "preparing"
    elif not campaign.phase:  # no run under way: not started yet, or a recurring one between runs
        campaign.status = "scheduled"
    else:
        campaign.status = "running"
    session.flush()
    revocations.release_campaign_after_commit(session, campaign.id)  # else its marker would hold them again
    return campaign


def cancel(session: Session, campaign: Campaign) -> int:
    """Cancel for good; queued messages are marked ``rejected`` (returns how many), those the sending lanes
    already claimed are held by a revocation marker after the commit (:mod:`core.revocations`)."""
    if campaign.status in ("cancelled", "completed"):
        raise Conflict(f"campaign {campaign.id} is already {campaign.status}")
    campaign.status = "cancelled"
    campaign.next_run_at = None
    revocations.revoke_campaign_after_commit(session, campaign.id)
    result = session.execute(
        update(Message)
        .where(Message.campaign_id == campaign.id, Message.status == "queued")
        .values(status="rejected", error_code="campaign_cancelled", error_reason="campaign cancelled")
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
