"""A small synthetic shop with a known signal, for the scoring job's tests (and the API's, the console's).

Half the customers ("regulars") order every 12 days up to the day before ``NOW`` at 09:00 UTC, buying
the lamp and the candle; the other half ("lapsed") ordered every 12 days at 18:00 until 200 days
before ``NOW``, buying the vase. Every model has something true to find: who buys next, when, what.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from contacts.models import Order, OrderLine
from tests.contacts.helpers import create_contact

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PRODUCTS = {"LAMP": "Brass lamp", "CANDLE": "Fig candle", "VASE": "Stoneware vase"}


def _order(contact_id: int, n: int, at: datetime, lines: list[tuple[str, int, int]]) -> Order:
    return Order(
        contact_id=contact_id,
        source="import",
        external_id=f"{contact_id}-{n}",
        ordered_at=at,
        currency="EUR",
        total_micros=sum(q * p for _, q, p in lines),
        status="paid",
        country="France",
    )


def build_shop(session: Session, *, customers: int = 60, without_orders: int = 3) -> dict[str, list[int]]:
    """Contacts with the history above (``regular``, ``lapsed``) and some with none (``none``)."""
    made: dict[str, list[int]] = {"regular": [], "lapsed": [], "none": []}
    pending: list[tuple[Order, list[tuple[str, int, int]]]] = []
    for n in range(customers):
        regular = n % 2 == 0
        contact = create_contact(session, 1000 + n, timezone="Europe/Paris")
        made["regular" if regular else "lapsed"].append(contact.id)
        end = NOW - timedelta(days=1 + n % 5) if regular else NOW - timedelta(days=200 + n % 7)
        for k in range(25):
            day = end - timedelta(days=12 * k)
            if regular:
                at = day.replace(hour=9, minute=n % 50)
                lines = [("LAMP", 1, 40_000_000 + n * 100_000), ("CANDLE", 2 + k % 2, 12_000_000)]
            else:
                at = day.replace(hour=18, minute=n % 50)
                lines = [("VASE", 1, 25_000_000)]
            pending.append((_order(contact.id, k, at, lines), lines))
    session.add_all([order for order, _ in pending])
    session.flush()
    session.add_all(
        [
            OrderLine(order_id=order.id, product_id=pid, description=PRODUCTS[pid], quantity=q, unit_price_micros=p)
            for order, lines in pending
            for pid, q, p in lines
        ]
    )
    for n in range(without_orders):
        made["none"].append(create_contact(session, 5000 + n).id)
    session.flush()
    return made


def six_scored_contacts(*, top_chance: float, purchase_version: str, spend_version: str, at: datetime) -> list[int]:
    """Six new contacts with a purchase chance each (0.1 … ``top_chance``) and an expected spend for only two
    of them: the population the analysts' summary reads (a kind fewer than 5 contacts hold is withheld)."""
    from core import db
    from intelligence import store

    chances = (0.1, 0.15, 0.3, 0.6, 0.7, top_chance)
    with db.session_scope() as session:
        ids = [create_contact(session, n).id for n in range(1, 7)]
        buy = store.register_version(session, kind="purchase_90d", version=purchase_version)
        store.write_predictions(
            session, buy, [store.Score(i, v) for i, v in zip(ids, chances, strict=True)], computed_at=at
        )
        spend = store.register_version(session, kind="expected_spend", version=spend_version)
        store.write_predictions(session, spend, [store.Score(ids[0], 40.0), store.Score(ids[1], 60.0)], computed_at=at)
    return ids
