"""The demo shop's predictions: score its customers once ``relais demo load`` gave them their orders.

Eight demo customers are far too few to learn from (the scoring job wants 50), so the demo trains
on a seeded sample of other Online Retail customers as well (``reference`` of
:func:`intelligence.scoring.score_contacts`), their dates moved by the same whole weeks as the demo
orders and their prices in the demo shop's euros at the same rate (``cli.demo_orders.GBP_TO_EUR``), so
the models learn spend in one currency; only the demo contacts are scored. A real shop learns from its
own customers alone.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from cli.demo_orders import GBP_TO_EUR, RETAIL_FILE, week_shift
from contacts.models import Contact
from contacts.order_customers import CUSTOMER_ID_ATTRIBUTE, customer_key
from core import audit, db
from core.audit import Actor
from eval.paths import shared_data_dir
from intelligence.retail_data import NON_MERCHANDISE, load_online_retail
from intelligence.scoring import ScoringResult, score_contacts

REFERENCE_CUSTOMERS = 500
SEED = 7


def reference_history(path: Path, demo_customers: set[str], today: date) -> pd.DataFrame:
    """A seeded sample of :data:`REFERENCE_CUSTOMERS` Online Retail customers other than the demo's, moved
    to end in the week before ``today`` and priced in euros to the cent, as ``cli.demo_orders`` does the demo's."""
    frame = load_online_retail(path)
    shift = week_shift(frame["ordered_at"].max().date(), today)
    others = np.array(sorted(set(frame["customer_id"].unique()) - demo_customers))
    rng = np.random.default_rng(SEED)
    kept = set(rng.choice(others, size=min(REFERENCE_CUSTOMERS, len(others)), replace=False))
    sample = frame[frame["customer_id"].isin(kept)]
    return sample.assign(ordered_at=sample["ordered_at"] + pd.Timedelta(days=shift),
                         unit_price=(sample["unit_price"] * float(GBP_TO_EUR)).round(2))  # fmt: skip


def score_demo(actor: Actor, *, today: date | None = None, data_dir: Path | None = None) -> ScoringResult | str:
    """Score the demo contacts (a result), or why it was skipped (a sentence)."""
    path = (data_dir or shared_data_dir()) / RETAIL_FILE
    if not path.exists():
        return f"{path} not found (set RELAIS_SHARED_DATA to the public data sets)"
    with db.session_scope() as session:
        attributes = session.scalars(select(Contact.attributes).where(Contact.erased.is_(False))).all()
    demo = {customer_key(a[CUSTOMER_ID_ATTRIBUTE]) for a in attributes if a and a.get(CUSTOMER_ID_ATTRIBUTE)}
    reference = reference_history(path, demo, today or date.today())
    with db.session_scope() as session:
        result = score_contacts(session, reference=reference, excluded=NON_MERCHANDISE)
        audit.record(session, actor=actor, action="intelligence.score", target_type="model_version",
                     target_id=result.versions.get("purchase_90d", ""),
                     diff={"path": result.path, "contacts": result.contacts_scored, "demo": True})  # fmt: skip
    return result


def describe(outcome: ScoringResult | str) -> str:
    """One line for ``relais demo load``: what was scored, on what, how fast; or why not."""
    if isinstance(outcome, str):
        return f"Predictions skipped: {outcome}"
    if outcome.path != "scored":
        return f"No predictions stored: {outcome.reason}"
    return (
        f"Predictions: {outcome.contacts_scored} demo customers scored in {outcome.seconds:.0f} s "
        f"({outcome.reason}); see a contact's page"
    )
