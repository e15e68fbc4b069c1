"""Campaign tables: templates, campaigns and their runs, tracked links, conversions, brand, variants.

A campaign's messages are ordinary ``conversations.Message`` rows carrying ``campaign_id``; the A/B
arm of a message is kept in ``Message.analysis["ab_arm"]`` so reports can group by it without a
second row per recipient. Clicks are not stored per recipient in advance: a tracked link code is
computed from (link id, contact id) and signed (see ``campaigns.links``), and a click writes a
``LinkClick`` row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Template(Base):
    __tablename__ = "campaign_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="marketing")  # marketing | transactional
    language: Mapped[str] = mapped_column(String(8), default="en")
    body: Mapped[str] = mapped_column(Text)
    # attribute names this template may read as ``attributes.NAME`` besides the declared ones
    attributes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # event payload fields a transactional template may read as ``event.FIELD`` (dotted paths)
    event_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # draft | scheduled | preparing | running | paused | cancelled | completed (see campaigns.service)
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("campaign_templates.id"))
    # segment rules as understood by contacts.segments.compile_segment
    segment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a saved contacts Segment
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # inline rules otherwise
    sender: Mapped[str] = mapped_column(String(32), default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {language: template_id}: a contact whose language is listed gets that template
    translations: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # schedule: send_at (UTC) or a local wall-clock time applied in each contact's timezone
    send_at: Mapped[datetime | None] = mapped_column(nullable=True)
    local_time: Mapped[str] = mapped_column(String(5), default="")  # "HH:MM" when local
    local_date: Mapped[str] = mapped_column(String(10), default="")  # "YYYY-MM-DD" when local
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurrence: Mapped[str] = mapped_column(String(300), default="")  # RRULE:... or a cron line
    next_run_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    run: Mapped[int] = mapped_column(Integer, default=0)
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    respect_country_rules: Mapped[bool] = mapped_column(Boolean, default=True)
    throttle_per_minute: Mapped[int] = mapped_column(Integer, default=0)  # 0 = unthrottled
    frequency_cap: Mapped[int] = mapped_column(Integer, default=3)  # marketing messages per window
    frequency_days: Mapped[int] = mapped_column(Integer, default=7)
    # the authority also applies each contact's learned cap when smaller (campaigns.fatigue)
    learned_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    # A/B: {"arms": [{"name", "template_id", "weight"}], "test_fraction", "metric", "winner_after_hours"}
    ab: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ab_winner: Mapped[str] = mapped_column(String(40), default="")
    # "best time" option: {"start", "end" (local "YYYY-MM-DDTHH:MM"), "holdout"}; None = off (campaigns.send_time)
    send_time: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ab_decide_at: Mapped[datetime | None] = mapped_column(nullable=True)
    prepared: Mapped[int] = mapped_column(Integer, default=0)  # messages queued in the current run
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # last contact id prepared in this phase
    phase: Mapped[str] = mapped_column(String(10), default="")  # "" | main | ab_wait | holdout | batch_wait | done
    run_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CampaignLink(Base):
    """A URL found in a campaign's template, replaced by per-recipient tracked codes."""

    __tablename__ = "campaign_links"
    __table_args__ = (UniqueConstraint("campaign_id", "url", name="uq_campaign_links_campaign_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True)
    url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkClick(Base):
    __tablename__ = "campaign_link_clicks"
    __table_args__ = (Index("ix_campaign_link_clicks_campaign_contact", "campaign_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("campaign_links.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contact_id: Mapped[int] = mapped_column(Integer)
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversion(Base):
    __tablename__ = "campaign_conversions"
    __table_args__ = (UniqueConstraint("campaign_id", "reference", name="uq_campaign_conversions_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str] = mapped_column(String(200))  # order id or any caller key (deduplicates)
    value_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(20), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventTemplate(Base):
    """Which template a transactional event type sends, per language ("*" = fallback)."""

    __tablename__ = "campaign_event_templates"
    __table_args__ = (UniqueConstraint("event_type", "language", name="uq_campaign_event_templates_type_lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(8), default="*")
    template_id: Mapped[int] = mapped_column(ForeignKey("campaign_templates.id", ondelete="CASCADE"))


class TransactionalEvent(Base):
    __tablename__ = "campaign_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(60))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    contact_id: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(20), default="api")
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="sent")  # sent | no_template | blocked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BrandProfile(Base):
    """The single brand profile (id 1) used by the variant generator and brand check."""

    __tablename__ = "brand_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    voice: Mapped[str] = mapped_column(Text, default="")
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    banned_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    required_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    emoji_policy: Mapped[str] = mapped_column(String(10), default="some")  # none | some | any
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_segments: Mapped[int] = mapped_column(Integer, default=2)
    sentiment_min: Mapped[float] = mapped_column(default=0.0)
    sentiment_max: Mapped[float] = mapped_column(default=1.0)
    stop_number: Mapped[str] = mapped_column(String(20), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Variant(Base):
    __tablename__ = "campaign_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    brief: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(String(10))  # llm | offline | human | translation
    score: Mapped[float] = mapped_column(default=0.0)
    check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the offline generator's argument (urgency, benefit, ...); empty for the other paths
    angle: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | approved | rejected
    # the template an approved variant became; cleared if that template is deleted later
    template_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_templates.id", ondelete="SET NULL"),
                                                    nullable=True)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignAllocation(Base):
    """One batch of an adaptive campaign: how its recipients were split among the arms, and why.

    ``arms`` lists, per arm (the control first), ``name``, ``count`` in this batch and what the
    bandit saw before choosing: ``sends``, ``successes`` and ``p_best`` (None for the control,
    which does not compete). ``control_ids`` are the contacts held out in this batch (no message),
    the group the report measures lift against. ``stopped`` says why the test ended at this batch
    (``probability`` or ``max_duration``), empty while it runs. See ``campaigns.adaptive``.
    """

    __tablename__ = "campaign_allocations"
    __table_args__ = (UniqueConstraint("campaign_id", "run", "batch", name="uq_campaign_allocations_batch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    run: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column()
    arms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    control_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    winner: Mapped[str] = mapped_column(String(40), default="")
    stopped: Mapped[str] = mapped_column(String(20), default="")


class CampaignForecast(Base):
    """The forecast made for one run of a campaign (``intelligence.forecast.Forecast.as_dict``): when it was
    scheduled, or as a recurring campaign's later run starts; kept so the report can set each run's
    forecast beside what that run did (``campaigns.forecasting``)."""

    __tablename__ = "campaign_forecasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    run: Mapped[int] = mapped_column(Integer, default=1)  # the run it forecasts (``Campaign.run`` once started)
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    forecast: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
