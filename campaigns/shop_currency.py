"""The shop's currency: the one its orders are in, which predicted amounts and revenue are in too.

Predictions of money (``expected_spend``, ``clv``) are learnt from the orders' prices, and a campaign's revenue
is the orders' value, so both are in the currency of the orders. One shop sells in one currency in practice
(docs/intelligence.md, limits); when orders name several, the most common one among the latest is the shop's.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.models import Order

#: how many of the latest orders naming a currency decide: read through the primary key, so a campaign's
#: preparation can ask per batch without a scan of every order the shop ever took
RECENT_ORDERS = 1000


def shop_currency(session: Session) -> str:
    """The most common currency among the latest :data:`RECENT_ORDERS` orders that name one (ties: alphabetical);
    "" when none does."""
    recent = (
        select(Order.currency.label("currency"))
        .where(Order.currency != "")
        .order_by(Order.id.desc())
        .limit(RECENT_ORDERS)
        .subquery()
    )
    return (
        session.scalar(
            select(recent.c.currency)
            .group_by(recent.c.currency)
            .order_by(func.count().desc(), recent.c.currency)
            .limit(1)
        )
        or ""
    )
