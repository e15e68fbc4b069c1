"""What the deployment recorded of its campaign texts and what their recipients did, read once for the response model.

Everything is read up to a moment (``until``, the scoring time), never after it, as arrays of contact ids and
times in whole seconds (UTC):

* **sends**: campaign texts that reached the phone as far as we know (status sent, delivered or unknown), at
  the moment they went (``sent_at``, else when they were queued) with their campaign;
* **campaign responses**: tracked-link clicks and recorded conversions naming a campaign
  (``engagement_events`` ``clicked`` / ``purchased`` with ``ref`` ``campaign:<id>``; clicks on links of no
  campaign count as clicks, not as a campaign's response);
* **replies**: every text the contact sent us (a campaign report's replies);
* **orders**: with their total, and when cancelled (an order cancelled later is still a purchase before);
* **opt-outs**: the consent ledger's ``opt_out`` events (STOP, or a request in words);
* **zones**: each contact's time zone as stored (``contacts.timezone``, guessed from the number), so hours and
  weekdays are read on the contact's own clock (``intelligence.response_features.local_clock``).

Nothing here reads the campaigns package (the import contract): the tables it reads belong to ``contacts``
and ``conversations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.models import ConsentEvent, Contact, EngagementEvent, Order
from conversations.models import Message

#: campaign texts that reached the phone as far as we know (a failed or rejected one was never read)
REACHED = ("sent", "delivered", "unknown")
CAMPAIGN_REF = "campaign:"
MICROS = 1_000_000


@dataclass(frozen=True)
class Events:
    """One kind of event: contact ids and seconds since 1970 (UTC); ``campaign`` and ``value`` where they apply."""

    contact: np.ndarray
    seconds: np.ndarray
    campaign: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[tuple[Any, ...]]) -> Events:
        """From rows of (contact, time, campaign or -1, value)."""
        frame = pd.DataFrame.from_records(rows, columns=["contact", "at", "campaign", "value"])
        if frame.empty:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, np.zeros(0))
        return cls(frame["contact"].to_numpy(np.int64), seconds(frame["at"]), frame["campaign"].to_numpy(np.int64),
                   frame["value"].to_numpy(float))  # fmt: skip


@dataclass(frozen=True)
class History:
    """The deployment's campaign texts and engagement up to ``until`` (see the module's docstring)."""

    until: int  # seconds
    sends: Events
    campaign_responses: Events
    clicks: Events
    replies: Events
    orders: Events  # value: the order's total in the shop's currency
    kept_orders: Events  # the orders never cancelled (a response is an order that stood, as campaign reports count)
    cancelled: Events  # the orders cancelled, at their cancellation (value: the total taken back)
    opt_outs: Events
    zones: pd.Series  # contact id -> its time zone's name, for the contacts that have one


def seconds(times: pd.Series) -> np.ndarray:
    """Whole seconds since 1970 of naive-UTC or aware datetimes (SQLite hands back naive ones)."""
    stamps = pd.to_datetime(times, utc=True)
    return np.asarray((stamps - pd.Timestamp(0, tz=UTC)) // pd.Timedelta(seconds=1), dtype=np.int64)


def _campaign(ref: str) -> int:
    tail = ref[len(CAMPAIGN_REF) :]
    return int(tail) if ref.startswith(CAMPAIGN_REF) and tail.isdigit() else -1


def read(session: Session, *, until: datetime) -> History:
    """Everything the response model may learn from, recorded before ``until`` (naive means UTC)."""
    moment = until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC)
    went = func.coalesce(Message.sent_at, Message.created_at)
    sends = session.execute(
        select(Message.contact_id, went, Message.campaign_id).where(
            Message.campaign_id.is_not(None), Message.direction == "out", Message.status.in_(REACHED), went < moment
        )
    ).all()
    engaged = session.execute(
        select(EngagementEvent.contact_id, EngagementEvent.at, EngagementEvent.kind, EngagementEvent.ref).where(
            EngagementEvent.kind.in_(("clicked", "purchased")), EngagementEvent.at < moment
        )
    ).all()
    replies = session.execute(
        select(Message.contact_id, Message.created_at).where(Message.direction == "in", Message.created_at < moment)
    ).all()
    orders = session.execute(
        select(Order.contact_id, Order.ordered_at, Order.total_micros, Order.cancelled_at).where(
            Order.ordered_at < moment
        )
    ).all()
    opt_outs = session.execute(
        select(ConsentEvent.contact_id, ConsentEvent.at).where(
            ConsentEvent.contact_id.is_not(None), ConsentEvent.action == "opt_out", ConsentEvent.at < moment
        )
    ).all()
    zones = session.execute(select(Contact.id, Contact.timezone).where(Contact.timezone.is_not(None),
                                                                     Contact.timezone != "")).all()
    return History(
        until=int(seconds(pd.Series([moment]))[0]),
        sends=Events.of([(c, at, campaign, 0.0) for c, at, campaign in sends]),
        campaign_responses=Events.of(
            [(c, at, _campaign(ref), 0.0) for c, at, _, ref in engaged if _campaign(ref) >= 0]
        ),
        clicks=Events.of([(c, at, _campaign(ref), 0.0) for c, at, kind, ref in engaged if kind == "clicked"]),
        replies=Events.of([(c, at, -1, 0.0) for c, at in replies]),
        orders=Events.of([(c, at, -1, total / MICROS) for c, at, total, _ in orders]),
        kept_orders=Events.of(
            [(c, at, -1, total / MICROS) for c, at, total, gone in orders if gone is None or gone >= moment]
        ),
        cancelled=Events.of(
            [(c, gone, -1, total / MICROS) for c, _, total, gone in orders if gone is not None and gone < moment]
        ),
        opt_outs=Events.of([(c, at, -1, 0.0) for c, at in opt_outs]),
        zones=pd.Series({c: name for c, name in zones}, dtype=object),
    )
