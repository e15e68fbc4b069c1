"""API shapes of messages (in and out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from channels.media import MediaUrl
from conversations.models import Message
from core.bodies import RequestBody

Lane = Literal["transactional", "conversational", "marketing"]


class MediaIn(RequestBody):
    url: MediaUrl
    content_type: str
    size: int | None = Field(default=None, ge=0)
    caption: str | None = None


class MessageIn(RequestBody):
    to: str = Field(description="recipient, E.164 (+33612345678) or national form of the default region")
    body: str = Field(default="", max_length=5000)
    media: list[MediaIn] = Field(default_factory=list, max_length=10)
    lane: Lane = "transactional"
    sender: str | None = Field(default=None, description="a sender address; chosen automatically when absent")
    smart_encoding: bool = Field(default=False, description="replace curly quotes, dashes... by GSM-7 look-alikes")
    override_opt_out: bool = Field(
        default=False,
        description="admin only, transactional lane only: send to a number that opted out (audited; needs a reason)",
    )
    override_reason: str = Field(default="", max_length=500, description="why the opt-out is overridden")
    expires_at: datetime | None = Field(
        default=None,
        description="for time-critical texts (one-time codes): not sent after this instant, closed expired",
    )
    send_at: datetime | None = Field(
        default=None,
        description="schedule: not sent before this instant (at most 35 days ahead); consent and the lane's send "
        "window are checked when it goes; cancel it before with POST /messages/{id}/cancel",
    )


class PreviewIn(RequestBody):
    body: str = Field(max_length=5000)
    smart_encoding: bool = False


class PreviewOut(BaseModel):
    body: str
    encoding: str
    segments: int
    characters: int
    units: int
    per_segment: int
    remaining_in_segment: int
    smart_encoding_saves_segments: int = Field(description="segments saved if smart encoding were on")


class MessageOut(BaseModel):
    id: int
    status: str
    direction: str
    lane: str
    encoding: str
    segments: int
    contact_id: int
    conversation_id: int | None
    sender: str
    body: str
    media: list[dict[str, Any]]
    provider: str
    provider_message_id: str | None
    author_type: str
    campaign_id: int | None
    override_opt_out: bool
    attempts: int
    error_code: str
    error_reason: str
    price_micros: int | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    not_before: datetime | None = Field(description="a queued message goes no earlier (UTC; null: at once)")
    expires_at: datetime | None = Field(description="past it the message is closed expired, never sent")
    wait_reason: str = Field(description="why a queued message waits: quiet_hours, country_rule, scheduled, "
                                         "throttled, paused, retry, rate_limited, held, provider_throttled, "
                                         "frequency_cap; "
                                         "empty when it does not")
    wait_detail: str = Field(description='the same for people: "quiet hours until Mon 08:00 Europe/Paris"')

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls.model_validate(message, from_attributes=True)
