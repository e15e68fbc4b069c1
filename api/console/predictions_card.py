"""The contact page's "Predictions" card: the stored predictions (``intelligence.store``) in words.

Probabilities (buying, responding to the next campaign text) read as percentages, churn risk as a band, money
in the currency of the contact's orders, the best time as a weekday and hour in the contact's zone, the model
version and when it was computed; a contact scored with the population's values (no orders yet) is told apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from contacts.orders import OrderView
from intelligence import store

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: churn risk at or above each bound: the band's name (the last one that holds)
CHURN_BANDS = ((0.0, "low"), (0.4, "medium"), (0.7, "high"))
RECOMMENDATIONS_SHOWN = 3


@dataclass
class Card:
    """What the card shows; ``facts`` are (label, sentence) pairs, empty when never scored."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    version: str = ""
    computed_at: datetime | None = None
    population_default: bool = False


def churn_band(risk: float) -> str:
    """The band of a churn risk: low, medium or high (see :data:`CHURN_BANDS`)."""
    return [name for bound, name in CHURN_BANDS if risk >= bound][-1]


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}".strip()


def _percent(value: float) -> str:
    # a model's 0.998 is not a certainty: never print 100 % or 0 % for a chance
    shown = round(value * 100)
    return "over 99 %" if shown >= 100 and value < 1 else "under 1 %" if shown <= 0 and value > 0 else f"{shown} %"


def build(session: Session, contact_id: int, orders: list[OrderView], *, today: date) -> Card:
    """The card of ``contact_id``; ``orders`` (newest first) give the currency."""
    found = store.current(session, contact_id)
    if not found:
        return Card()
    currency = next((view.order.currency for view in orders if view.order.currency), "")
    card = Card(version=max(p.version for p in found.values()), computed_at=max(p.computed_at for p in found.values()),
                population_default=any(p.detail.get("default") for p in found.values()))  # fmt: skip
    if "purchase_90d" in found:
        card.facts.append(("Likely to buy in the next 90 days", _percent(found["purchase_90d"].value)))
        products = found["purchase_90d"].detail.get("products") or []
        card.recommendations = [p.get("description") or p.get("id", "") for p in products][:RECOMMENDATIONS_SHOWN]
    if "churn_risk" in found:
        risk = found["churn_risk"].value
        card.facts.append(("Churn risk", f"{churn_band(risk)} ({_percent(risk)} chance of no order in 90 days)"))
    if "expected_spend" in found:
        card.facts.append(("Expected spend, next 90 days", _money(found["expected_spend"].value, currency)))
    if "clv" in found:
        card.facts.append(("Expected value over a year", _money(found["clv"].value, currency)))
    if "next_purchase_days" in found:
        due = found["next_purchase_days"].detail.get("date", "")
        days = (date.fromisoformat(due) - today).days if due else None
        when = "due now" if days is not None and days <= 0 else f"in {days} days" if days is not None else ""
        card.facts.append(("Next purchase expected", f"{due} ({when})" if due else "—"))
    if "best_hour" in found:
        detail = found["best_hour"].detail
        hour, day = int(detail.get("hour", found["best_hour"].value)), detail.get("day")
        weekday = f"{DAYS[int(day)]}s" if day is not None else "Any day"
        text = f"{weekday} around {hour:02d}:00 ({detail.get('timezone', 'UTC')})"
        if not detail.get("personal", True):
            text += ", the shop's usual hour"
        card.facts.append(("Best time to text", text))
    if "response" in found:  # learnt from the shop's campaign texts (intelligence.response_scoring)
        texts = int(found["response"].detail.get("texts") or 0)
        basis = f"after {texts} campaign texts" if texts else "no campaign text yet"
        chance = _percent(found["response"].value)
        card.facts.append(("Chance to respond to the next campaign text", f"{chance} ({basis})"))
    return card
