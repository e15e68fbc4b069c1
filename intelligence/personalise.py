"""What a message template may read of a contact's predictions, for many contacts in one query.

Campaign preparation renders a batch of recipients at a time; :func:`template_values` loads the
current prediction of every kind for the whole batch at once (the newest row of a kind wins, as in
:func:`intelligence.store.current`) so personalising never costs a query per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Prediction

RECOMMENDATIONS = 3  # product descriptions a template gets: a text has room for a few


@dataclass
class TemplateValues:
    """One contact's ``prediction.<kind>`` values and ``recommendations`` (product descriptions)."""

    prediction: dict[str, float] = field(default_factory=dict)
    recommendations: list[str] = field(default_factory=list)


def template_values(
    session: Session, contact_ids: Sequence[int], *, recommendations: int = RECOMMENDATIONS
) -> dict[int, TemplateValues]:
    """The values of each of ``contact_ids`` that has predictions (others are absent: the template's
    defaults apply). Recommendations come from the ``products`` of ``purchase_90d``."""
    found: dict[int, TemplateValues] = {}
    if not contact_ids:
        return found
    rows = session.execute(
        select(Prediction.contact_id, Prediction.kind, Prediction.value, Prediction.detail)
        .where(Prediction.contact_id.in_(list(contact_ids)))
        .order_by(Prediction.computed_at, Prediction.id)
    )
    for contact_id, kind, value, detail in rows:  # oldest first: the newest of a kind is written last
        values = found.setdefault(contact_id, TemplateValues())
        values.prediction[kind] = value
        if kind == "purchase_90d":
            products = (detail or {}).get("products") or []
            values.recommendations = [str(p.get("description") or p.get("id")) for p in products][:recommendations]
    return found
