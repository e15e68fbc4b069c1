"""Predictions across contacts: what an analyst reads instead of any one person's scores.

Per kind: how many contacts hold a current prediction, its mean and 10th/50th/90th percentiles,
for a chance (buying, churn, responding) the share of contacts in each band, and the model
versions and times that computed them. Only groups of at least :data:`MIN_CONTACTS` get figures:
the median of two people is nearly one person's score, so a smaller group shows its count and "n/a".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import PREDICTION_KINDS, Prediction
from intelligence.models import ModelVersion

MIN_CONTACTS = 5
CHANCES = ("purchase_90d", "churn_risk", "response")  # values are probabilities, 0 to 1
AMOUNTS = ("expected_spend", "clv")  # values are money, in the currency of the shop's orders
#: lower bounds of the bands a chance falls in (the last one that holds)
BANDS = ((0.0, "under 20 %"), (0.2, "20 to 50 %"), (0.5, "50 to 80 %"), (0.8, "80 % or more"))


@dataclass(frozen=True)
class KindSummary:
    """One prediction kind over every contact holding one; ``mean``… are ``None`` when too few to show."""

    kind: str
    label: str
    contacts: int
    mean: float | None = None
    p10: float | None = None
    median: float | None = None
    p90: float | None = None
    bands: dict[str, int] = field(default_factory=dict)  # chances only: contacts per band
    versions: list[str] = field(default_factory=list)
    computed_from: datetime | None = None
    computed_to: datetime | None = None

    @property
    def chance(self) -> bool:
        return self.kind in CHANCES

    @property
    def withheld(self) -> bool:
        """Scored contacts exist but too few for figures that describe a group rather than a person."""
        return 0 < self.contacts < MIN_CONTACTS


def band(value: float) -> str:
    """The band of a chance (see :data:`BANDS`)."""
    return [name for bound, name in BANDS if value >= bound][-1]


def summarise(session: Session) -> list[KindSummary]:
    """Every prediction kind (in :data:`PREDICTION_KINDS` order) summarised over the contacts' current values.

    A contact with two rows of one kind (merged, not yet re-scored) counts once, with the newest row,
    as :func:`intelligence.store.current` reads it. Kinds nobody holds are listed with 0 contacts.
    """
    rows = session.execute(
        select(Prediction.kind, Prediction.contact_id, Prediction.value, Prediction.computed_at, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .order_by(Prediction.computed_at, Prediction.id)
    )
    newest: dict[str, dict[int, tuple[float, datetime, str]]] = {kind: {} for kind in PREDICTION_KINDS}
    for kind, contact_id, value, computed_at, version in rows:
        newest.setdefault(kind, {})[contact_id] = (float(value), computed_at, version)  # later rows win
    return [_summary(kind, list(found.values())) for kind, found in newest.items()]


def _summary(kind: str, found: list[tuple[float, datetime, str]]) -> KindSummary:
    label = PREDICTION_KINDS.get(kind, kind)
    if not found:
        return KindSummary(kind, label, 0)
    times = [at for _, at, _ in found]
    versions = sorted({version for _, _, version in found})
    if len(found) < MIN_CONTACTS:
        return KindSummary(kind, label, len(found), versions=versions, computed_from=min(times),
                           computed_to=max(times))  # fmt: skip
    values = sorted(value for value, _, _ in found)
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    bands: dict[str, int] = {}
    if kind in CHANCES:
        bands = {name: 0 for _, name in BANDS}
        for value in values:
            bands[band(value)] += 1
    return KindSummary(
        kind, label, len(values), mean=statistics.fmean(values), p10=deciles[0], median=statistics.median(values),
        p90=deciles[-1], bands=bands, versions=versions, computed_from=min(times), computed_to=max(times),
    )  # fmt: skip
