"""Times on the console's pages: the server writes them in UTC, inside ``<time data-local-time>``, and
``console.js`` shows them in the reader's own time zone (named on the page), as the inbox and the thread do."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from agent.summary import utc_words


def local_time(moment: datetime, shown: str = "") -> Markup:
    """``moment`` as a ``<time>`` the script turns to the reader's zone; ``shown`` (else "01 Dec 09:42 UTC") until
    it runs."""
    return Markup('<time datetime="{}" data-local-time>{}</time>').format(
        moment.isoformat(), shown or moment.strftime("%d %b %H:%M UTC")
    )


def summary_html(text: str, ended_at: datetime | None) -> Markup:
    """The conversation's summary, the moment a person handed it back or closed it (written in UTC,
    ``agent.summary.utc_words``) shown in the reader's zone like every other time on the page."""
    if ended_at is None or utc_words(ended_at) not in text:
        return escape(text)
    before, after = text.split(utc_words(ended_at), 1)
    return escape(before) + local_time(ended_at, utc_words(ended_at)) + escape(after)
