"""Per-recipient outcomes of a campaign, as CSV: one line per message, in message order.

The report (``campaigns.reporting``) gives totals; this export answers "what happened to this
contact": the message's status, why it failed, was refused or waits, its A/B arm, the template it got (a
translation's, for a campaign with translations: recorded at preparation; blank for a message prepared before it
was), when it was
planned, sent and delivered, what it cost and how many times the contact clicked. Contacts are
named by id only (the console links a contact's page), so the file carries no phone number or
name. Read in keyset batches, so a million-recipient campaign streams in flat memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, LinkClick
from campaigns.reporting import ARM
from conversations.models import Message
from core.spreadsheet import neutralise

COLUMNS = ("message_id", "contact_id", "arm", "template_id", "status", "reason", "detail", "planned_at", "sent_at",
           "delivered_at", "segments", "cost", "clicks")
BATCH = 5000
#: the translation a recipient got, which preparation records (``campaigns.prepare``)
TEMPLATE = Message.analysis["template_id"].as_integer()


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _money(micros: int | None) -> str:
    return "" if micros is None else f"{micros / 1_000_000:.6f}".rstrip("0").rstrip(".")


def rows(session: Session, campaign_id: int, *, batch: int = BATCH) -> Iterator[tuple[object, ...]]:
    """Each outbound message of the campaign with its outcome (times in UTC), ``batch`` rows per query."""
    campaign = session.get(Campaign, campaign_id)
    arms = {str(a["name"]): int(a["template_id"]) for a in ((campaign.ab or {}).get("arms") or [])} if campaign else {}
    # without translations every recipient of an arm (or of the campaign) got the same template
    plain = campaign.template_id if campaign is not None and not campaign.translations else None
    last = 0
    while True:
        found = session.execute(
            select(Message.id, Message.contact_id, ARM, TEMPLATE, Message.status, Message.error_code,
                   Message.wait_reason, Message.error_reason, Message.wait_detail, Message.not_before, Message.sent_at,
                   Message.delivered_at, Message.segments, Message.price_micros)
            .where(Message.campaign_id == campaign_id, Message.direction == "out", Message.id > last)
            .order_by(Message.id).limit(batch)
        ).all()
        if not found:
            return
        contacts = {row[1] for row in found}
        clicks: dict[int, int] = {contact_id: int(n) for contact_id, n in session.execute(
            select(LinkClick.contact_id, func.count())
            .where(LinkClick.campaign_id == campaign_id, LinkClick.contact_id.in_(contacts))
            .group_by(LinkClick.contact_id)
        )}
        for (message_id, contact_id, arm, template_id, status, code, wait, error, wait_detail, planned, sent,
             delivered, segments, price) in found:
            waiting = status == "queued"
            template = template_id or (arms.get(arm) if arm else plain)
            yield (message_id, contact_id, arm or "", template or "", status, (wait or "due") if waiting else code,
                   wait_detail if waiting else error, _time(planned), _time(sent), _time(delivered), segments,
                   _money(price), clicks.get(contact_id, 0))
        last = found[-1][0]


def csv_chunks(session: Session, campaign_id: int) -> Iterator[str]:
    """The CSV text (header first), one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows(session, campaign_id), start=1):
        writer.writerow([neutralise(cell) for cell in row])  # the arm's name and the provider's reason are text
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
