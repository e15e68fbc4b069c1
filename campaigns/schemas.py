"""Pydantic shapes of the campaigns API: templates, campaigns, events, brand (variants: their own package)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from channels.media import media_kind, normalize_content_type, size_limit
from core.bodies import JsonObject, RequestBody
from core.errors import ValidationFailed


class MediaIn(RequestBody):
    """One MMS attachment of a template or campaign, by URL."""

    url: str = Field(pattern=r"^https?://", max_length=2000)
    content_type: str
    size: int | None = Field(default=None, ge=1, description="bytes, when known; checked against the MMS limit")
    caption: str = Field(default="", max_length=500)


def _check_media(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item a valid attachment of an accepted MMS type and size; stored as plain dicts."""
    checked = []
    for number, item in enumerate(items, start=1):
        media = MediaIn.model_validate(item)
        try:
            media_kind(media.content_type)
        except ValidationFailed as exc:
            raise ValueError(f"media {number}: {exc.detail}") from None
        limit = size_limit("default")
        if media.size is not None and media.size > limit:
            raise ValueError(f"media {number}: {media.size} bytes is over the {limit}-byte MMS limit")
        checked.append(
            {**media.model_dump(exclude_none=True), "content_type": normalize_content_type(media.content_type)}
        )
    return checked


MediaList = Annotated[list[dict[str, Any]], AfterValidator(_check_media)]


# a language code as templates store it ("fr", "pt-BR"): one definition for templates and previews
LanguageCode = Annotated[str, Field(min_length=2, max_length=8)]


class TemplateIn(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["marketing", "transactional"] = "marketing"
    language: LanguageCode = "en"
    body: str = Field(min_length=1, max_length=5000)
    attributes: list[str] = Field(default_factory=list, description="extra attribute names the body may read")
    event_fields: list[str] = Field(default_factory=list, description="event payload paths; suffix ? = optional")
    media: MediaList = Field(default_factory=list)


class TemplateOut(TemplateIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")  # an answer, not a request
    id: int
    created_at: datetime


class PreviewIn(RequestBody):
    contact_id: int | None = None
    template_id: int | None = None
    body: str | None = Field(None, max_length=5000)
    language: LanguageCode | None = None
    kind: Literal["marketing", "transactional"] | None = None
    attributes: list[str] = Field(default_factory=list, description="extra attribute names a draft body may read")
    event: JsonObject | None = None
    segment_id: int | None = None
    segment: JsonObject | None = None


class PreviewOut(BaseModel):
    text: str
    encoding: str
    segments: int
    characters: int
    recipients: int | None = Field(default=None, description="contacts the segment matches")
    sendable: int | None = Field(default=None, description="recipients the consent policy lets through")
    excluded: dict[str, int] | None = Field(
        default=None, description="recipients excluded by the consent policy, by reason (no_consent, opted_out, ...)"
    )
    estimated_cost_micros: int | None = None
    cost_per_message_micros: int


def _not_control(name: str) -> str:
    if name == "control":
        raise ValueError("'control' names the held-out group, not an arm")
    return name


class AdaptiveArmIn(RequestBody):
    name: Annotated[str, AfterValidator(_not_control)] = Field(min_length=1, max_length=40)
    template_id: int


class AdaptiveIn(RequestBody):
    """An adaptive test (``ab`` with ``mode: adaptive``): batches split by the bandit, a fixed control.

    See ``campaigns.adaptive``: every ``batch_minutes`` the next ``batch_size`` contacts are split
    by Thompson sampling on each arm's ``metric`` rate, ``control_share`` of each batch gets no
    message, and once an arm is best with probability >= ``threshold`` after at least ``min_sends``
    messages (or ``max_hours`` passed) the rest of the audience gets the winner.
    """

    mode: Literal["adaptive"]
    arms: list[AdaptiveArmIn] = Field(min_length=2, max_length=8)
    control_share: float = Field(default=0.1, ge=0.0, le=0.5)
    batch_size: int = Field(default=500, ge=20, le=50_000)
    batch_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    metric: Literal["clicks", "replies", "conversions"] = "clicks"
    threshold: float = Field(default=0.95, ge=0.5, le=0.999)
    min_sends: int = Field(default=200, ge=0, le=1_000_000,
                           description="messages sent across the variants before the probability rule may stop")
    max_hours: float = Field(default=72.0, gt=0, le=30 * 24)


def _check_ab_mode(ab: dict[str, Any]) -> dict[str, Any]:
    """A fixed A/B test (no ``mode``) as given; an adaptive one validated and stored with its defaults."""
    if "mode" not in ab:
        return ab
    return AdaptiveIn.model_validate(ab).model_dump()


def _local_moment(value: str) -> str:
    """A wall-clock moment without zone, normalised to ``YYYY-MM-DDTHH:MM``."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected a local date and time, YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is not None:
        raise ValueError("a local time has no zone: it is read in each recipient's own zone")
    return moment.strftime("%Y-%m-%dT%H:%M")


LocalMoment = Annotated[str, AfterValidator(_local_moment)]


class SendTimeIn(RequestBody):
    """The "best time" option: each recipient is texted at their predicted best hour within
    ``start``-``end`` read in their own zone; ``holdout`` of them, chosen by a seeded hash, get a
    uniformly random time in the same window so the report can measure the gain (``campaigns.send_time``)."""

    start: LocalMoment
    end: LocalMoment
    holdout: float = Field(default=0.1, ge=0.0, le=0.5, description="share given a random time (the control)")

    @model_validator(mode="after")
    def _ordered(self) -> SendTimeIn:
        if self.end <= self.start:
            raise ValueError("the best-time window ends before it starts")
        return self


class CampaignIn(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    template_id: int
    segment_id: int | None = None
    segment: JsonObject = Field(default_factory=dict, description="inline segment rules when no segment_id")
    sender: str = Field("", max_length=32)
    media: MediaList = Field(default_factory=list)
    translations: dict[str, int] = Field(default_factory=dict)
    timezone: str = "UTC"
    recurrence: str = ""
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    respect_country_rules: bool = True
    throttle_per_minute: int = Field(default=0, ge=0)
    frequency_cap: int = Field(default=3, ge=0)
    frequency_days: int = Field(default=7, ge=1)
    learned_cap: bool = Field(default=False, description="also apply each contact's learned cap when smaller")
    ab: Annotated[JsonObject, AfterValidator(_check_ab_mode)] = Field(
        default_factory=dict, description="a fixed A/B test, or an adaptive one (mode: adaptive, see AdaptiveIn)")
    send_time: SendTimeIn | None = Field(default=None, description="plan each recipient at their best time")

    @model_validator(mode="after")
    def _one_window(self) -> CampaignIn:
        if self.send_time is not None and self.recurrence:
            raise ValueError("best time needs a one-off campaign: every run of a repeating one would fall after "
                             "its fixed window")
        return self


class CampaignOut(CampaignIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")  # an answer, not a request
    id: int
    status: str
    send_at: datetime | None
    local_time: str
    local_date: str
    next_run_at: datetime | None
    run: int
    prepared: int
    skipped: dict[str, int]
    ab_winner: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class ScheduleIn(RequestBody):
    send_at: datetime | None = Field(default=None, description="UTC or offset-aware; omitted = now")
    local_time: str = Field(default="", description="HH:MM in each contact's own timezone")
    local_date: str = Field(default="", description="YYYY-MM-DD with local_time")
    timezone: str = Field(default="", description="fallback zone for contacts without one")


class ConversionIn(RequestBody):
    reference: str = Field(min_length=1, max_length=200)
    contact_id: int | None = None
    value_micros: int = Field(default=0, ge=0)


class EventContact(RequestBody):
    phone: str = Field(max_length=32)
    first_name: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=16)


class EventIn(RequestBody):
    type: str = Field(min_length=1, max_length=60)
    contact: EventContact | None = None
    contact_id: int | None = None
    data: JsonObject = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = Field(
        default=None, description="for one-time codes: the message is not sent after this instant (closed expired)"
    )


class EventOut(BaseModel):
    id: int
    status: str
    message_id: int | None
    duplicate: bool = False


class EventTemplateIn(RequestBody):
    event_type: str
    language: str = "*"
    template_id: int


class BrandIn(RequestBody):
    name: str = Field("", max_length=200)
    voice: str = Field("", max_length=2000)
    examples: list[str] = Field(default_factory=list, max_length=20)
    banned_terms: list[str] = Field(default_factory=list, max_length=200)
    required_terms: list[str] = Field(default_factory=list, max_length=50)
    emoji_policy: Literal["none", "some", "any"] = "some"
    languages: list[str] = Field(default_factory=list, max_length=20)
    max_segments: int = Field(default=2, ge=1, le=10)
    sentiment_min: float = Field(default=0.0, ge=-1, le=1)
    sentiment_max: float = Field(default=1.0, ge=-1, le=1)
    stop_number: str = Field("", max_length=32)

    # field validators, not a model validator, so each refusal names its field (the console shows it there)
    @field_validator("required_terms")
    @classmethod
    def _not_banned(cls, required: list[str], info: ValidationInfo) -> list[str]:
        banned = {term.casefold() for term in info.data.get("banned_terms", [])}
        both = [term for term in required if term.casefold() in banned]
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both required and banned: no text could pass the check")
        return required

    @field_validator("sentiment_max")
    @classmethod
    def _range(cls, highest: float, info: ValidationInfo) -> float:
        lowest = info.data.get("sentiment_min")
        if lowest is not None and highest < lowest:
            raise ValueError(f"the highest tone ({highest}) is below the lowest ({lowest}): no text could pass")
        return highest


class BrandOut(BrandIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")  # an answer, not a request
