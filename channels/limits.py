"""How much one customer text may carry, applied by every channel as it parses (docs/security.md).

A signed 200,000-character SMS used to reach the agent whole. An SMS part holds at most 160
characters and phones split longer texts into parts; 10 parts (1,600 characters) is far above
what customers send and far below what would cost the analysis real time. Longer texts are cut,
not refused: a provider retries a refused webhook, and the customer's first 1,600 characters are
worth answering. The stored event carries ``truncated`` so nothing is cut silently.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from channels.base import InboundMessage

#: Parts of one concatenated text: later parts are acknowledged and dropped, the first ones joined.
MAX_INBOUND_PARTS = 10
#: Characters of one inbound text (or one part); also the most the agent pipeline analyses.
MAX_INBOUND_CHARS = 1600

log = logging.getLogger(__name__)


def cap_inbound(message: InboundMessage) -> InboundMessage | None:
    """``message`` within the caps (``truncated`` set when cut), or ``None`` for a part past the last kept one.

    A text longer than ``MAX_INBOUND_CHARS`` keeps its first characters; a concatenation of more
    than ``MAX_INBOUND_PARTS`` parts is joined from its first parts only.
    """
    concat = message.concat
    if concat is not None and concat.part > MAX_INBOUND_PARTS:
        log.warning("inbound part %s of %s dropped: texts keep %s parts", concat.part, concat.total, MAX_INBOUND_PARTS)
        return None
    text, truncated = message.text, message.truncated
    if concat is not None and concat.total > MAX_INBOUND_PARTS:
        concat, truncated = replace(concat, total=MAX_INBOUND_PARTS), True
    if len(text) > MAX_INBOUND_CHARS:
        log.warning("inbound text of %s characters cut to %s", len(text), MAX_INBOUND_CHARS)
        text, truncated = text[:MAX_INBOUND_CHARS], True
    if truncated == message.truncated:
        return message
    return replace(message, text=text, concat=concat, truncated=truncated)
