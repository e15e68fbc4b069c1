"""Why a segment rule on a prediction matches nobody: the kinds no contact holds yet, and what would give them.

The segment builder offers every prediction kind (``contacts.models.PREDICTION_KINDS``), but each is written by
a different job, and a fresh deployment, or one whose uplift or response model never trained, holds none of some: the
builder's live count then read "0 contacts right now" with nothing to say that no threshold could do better.
:func:`unheld` names those kinds with the reason, in the words of the pages that explain them (the contact
page's "No prediction yet", the wizard's uplift line); :func:`held` gives the values a held kind goes between, so a
threshold beyond them can be said to be why. :func:`left_out` counts, whenever some do, the contacts a rule leaves
out because they hold no prediction of its kind yet (imported since the last scoring), with when the next comes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from campaigns.uplift_targeting import KIND as UPLIFT
from campaigns.uplift_targeting import latest_model
from contacts import segments
from contacts.models import Contact, Order, Prediction
from intelligence import response_scoring
from intelligence.response_scoring import KIND as RESPONSE
from intelligence.scoring import MIN_CUSTOMERS
from intelligence.tasks import DAY

#: the one kind the scoring leaves out for a contact who never ordered (no rhythm to extrapolate)
_ORDERS_ONLY = "next_purchase_days"


def _kinds(rules: Any) -> Iterator[str]:
    """The prediction kinds the rules read, at any depth (``all``, ``any``, ``not``)."""
    if isinstance(rules, Mapping):
        if rules.get("field") == "prediction" and isinstance(rules.get("kind"), str):
            yield rules["kind"]
        for value in rules.values():
            yield from _kinds(value)
    elif isinstance(rules, list):
        for item in rules:
            yield from _kinds(item)


def why_none(session: Session, kind: str) -> str:
    """Why no contact holds a prediction of ``kind`` (the segment builder's note, the analysts' summary)."""
    if kind == RESPONSE:  # learnt from the campaigns' texts, not the orders: its own reasons
        return response_scoring.why_none(session)
    if kind == UPLIFT:
        if latest_model(session) is None:
            return (
                "no uplift model has been trained yet: it learns from past adaptive campaigns' control groups "
                "(run one, then it is trained daily)"
            )
        return "the uplift model's last run stored none for the contacts there are now"
    scored = select(Prediction.id).where(Prediction.kind.not_in([UPLIFT, RESPONSE])).limit(1)
    if session.scalar(scored) is not None:  # the scoring job writes its kinds together
        return "the last scoring of the shop's orders stored none of this kind"
    customers = session.scalar(select(func.count(distinct(Order.contact_id)))) or 0
    if customers < MIN_CUSTOMERS:
        return (
            f"predictions are learnt from the shop's orders once at least {MIN_CUSTOMERS} customers have ordered "
            f"({customers} so far): load the order history (Contacts, Import orders in the console; relais orders "
            "import FILE; or Shopify's order webhooks)"
        )
    return "the daily scoring of the shop's orders has not stored any yet (relais intelligence score runs it now)"


def unheld(session: Session, rules: Mapping[str, Any]) -> dict[str, str]:
    """Each prediction kind ``rules`` read that no live contact holds, with why (empty when every one is held)."""
    wanted = sorted(set(_kinds(rules)))
    if not wanted:
        return {}
    held = set(
        session.scalars(
            select(Prediction.kind)
            .join(Contact, Contact.id == Prediction.contact_id)
            .where(Prediction.kind.in_(wanted), Contact.erased.is_(False))
            .distinct()
        )
    )
    return {kind: why_none(session, kind) for kind in wanted if kind not in held}


@dataclass(frozen=True)
class Held:
    """What live contacts hold of one prediction kind: how many contacts, the lowest value and the highest."""

    contacts: int
    low: float
    high: float


def held(session: Session, kind: str) -> Held | None:
    """The values of ``kind`` live contacts hold (every row, as a segment's condition reads them), ``None`` when
    none does: a threshold outside them is why a condition matches nobody ("churn risk high" on a shop whose
    customers all hold 2 % to 3 %)."""
    contacts, low, high = session.execute(
        select(func.count(distinct(Prediction.contact_id)), func.min(Prediction.value), func.max(Prediction.value))
        .join(Contact, Contact.id == Prediction.contact_id)
        .where(Prediction.kind == kind, Contact.erased.is_(False))
    ).one()
    return Held(int(contacts), float(low), float(high)) if contacts else None


@dataclass(frozen=True)
class LeftOut:
    """Contacts a segment's rules leave out because they hold no prediction of ``kind`` yet.

    ``why`` says how they get one; ``next_scoring`` is the start of the next daily scoring slot (the scheduler
    queues the scoring, and the uplift model's run, once per UTC day), ``None`` when that run would store none: too
    few customers have ordered, so it keeps the earlier predictions (the demo's were learnt from a reference history).
    """

    kind: str
    contacts: int
    why: str
    next_scoring: datetime | None


def next_scoring(now: datetime) -> datetime:
    """When the scheduler next queues the daily scoring: the start of the next UTC day (``workers.scheduler``'s
    slot of ``intelligence.tasks.PERIODIC``)."""
    stamp = now if now.tzinfo else now.replace(tzinfo=UTC)
    return datetime.fromtimestamp((int(stamp.timestamp()) // DAY + 1) * DAY, UTC)


def left_out(session: Session, rules: Mapping[str, Any], *, now: datetime) -> list[LeftOut]:
    """For each prediction kind ``rules`` read, the contacts left out for want of one (only kinds leaving some out).

    Every contact gets each kind at the scoring after it is added (population defaults when it has no orders),
    except ``next_purchase_days``, predicted only for contacts who have ordered."""
    found = []
    customers: int | None = None
    for kind in sorted(set(_kinds(rules))):
        contacts = segments.count_without(session, rules, kind)
        if not contacts:
            continue
        if kind not in (UPLIFT, RESPONSE):  # the order-history scoring's kinds: it adds none below MIN_CUSTOMERS
            if customers is None:
                customers = session.scalar(select(func.count(distinct(Order.contact_id)))) or 0
            if customers < MIN_CUSTOMERS:
                found.append(LeftOut(kind, contacts, (
                    f"the daily scoring keeps the earlier predictions and adds none while fewer than {MIN_CUSTOMERS} "
                    f"customers have ordered ({customers} so far): load the order history (Contacts, Import orders)"
                ), None))
                continue
        why = ("it is predicted only for contacts who have ordered, at the scoring after their order"
               if kind == _ORDERS_ONLY else "each contact gets one at the daily scoring after it is added")
        found.append(LeftOut(kind, contacts, why, next_scoring(now)))
    return found
