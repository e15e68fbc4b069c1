"""Inbound caps every channel applies as it parses (issue 15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from channels.base import ConcatInfo, InboundMessage, WebhookRequest
from channels.limits import MAX_INBOUND_CHARS, MAX_INBOUND_PARTS, cap_inbound
from channels.vonage_webhooks import parse_inbound


def _message(text: str, concat: ConcatInfo | None = None) -> InboundMessage:
    return InboundMessage(
        provider="vonage-sms", provider_message_id="m1", from_="+33612345678", to="+33700000000",
        text=text, received_at=datetime(2026, 1, 1, tzinfo=UTC), concat=concat,
    )


def test_a_text_within_the_caps_is_untouched() -> None:
    message = _message("x" * MAX_INBOUND_CHARS, ConcatInfo(ref="7", part=MAX_INBOUND_PARTS, total=MAX_INBOUND_PARTS))
    assert cap_inbound(message) is message


def test_a_long_text_keeps_its_first_characters_and_says_so() -> None:
    capped = cap_inbound(_message("é" * 200_000))
    assert capped is not None and capped.text == "é" * 1600 and capped.truncated


def test_a_concatenation_of_too_many_parts_is_joined_from_its_first_ones() -> None:
    first = cap_inbound(_message("a", ConcatInfo(ref="7", part=1, total=255)))
    assert first is not None and first.concat == ConcatInfo(ref="7", part=1, total=10) and first.truncated
    assert cap_inbound(_message("a", ConcatInfo(ref="7", part=11, total=255))) is None


def test_vonage_messages_api_text_is_capped_when_parsed() -> None:
    body = json.dumps({
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "from": "33612345678", "to": "33700000000",
        "message_type": "text", "text": "y" * 50_000, "channel": "sms",
    }).encode()
    request = WebhookRequest.build(method="POST", headers={"content-type": "application/json"}, body=body)
    (message,) = parse_inbound(request, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert message.text == "y" * MAX_INBOUND_CHARS and message.truncated
