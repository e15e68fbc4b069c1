"""Synthetic experiments with a known signal, in the Hillstrom and Bank Marketing file formats.

Hillstrom-like: customers who bought women's products (``womens = 1, mens = 0``) visit far more
after the women's e-mail, the others after the men's; the control visits least, and a recent
purchase (``recency <= 3``) adds the same lift whatever the arm. So the e-mail's uplift is largest
for recent customers, the best arm depends on the customer, and no single arm matches a policy
that learned who is who. Bank-like: clients contacted by cellular in a low-rate month respond
most; ``duration`` is filled with the outcome itself, so a model that read it would be perfect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from intelligence.experiment_data import BANK_FEATURES, HILLSTROM_ARMS

#: Visit rate per (womens-only customer?, arm): control, men's e-mail, women's e-mail.
VISIT_RATES = {False: (0.05, 0.35, 0.10), True: (0.05, 0.10, 0.35)}
RECENT_LIFT = 0.2


def hillstrom_frame(n: int, seed: int) -> pd.DataFrame:
    """``n`` customers in Hillstrom's columns, arms assigned uniformly at random."""
    rng = np.random.default_rng(seed)
    womens_only = rng.random(n) < 0.5
    arms = rng.integers(0, 3, size=n)
    recency = rng.integers(1, 13, size=n)
    rates = np.array([VISIT_RATES[bool(w)][a] for w, a in zip(womens_only, arms, strict=True)])
    rates = rates + np.where((recency <= 3) & (arms != 0), RECENT_LIFT, 0.0)
    history = rng.gamma(2.0, 120.0, size=n).round(2)
    return pd.DataFrame({
        "recency": recency,
        "history_segment": np.where(history < 100, "1) $0 - $100", "2) $100 - $200"),
        "history": history,
        "mens": (~womens_only).astype(int),
        "womens": womens_only.astype(int),
        "zip_code": rng.choice(["Urban", "Surburban", "Rural"], size=n),
        "newbie": rng.integers(0, 2, size=n),
        "channel": rng.choice(["Web", "Phone", "Multichannel"], size=n),
        "segment": [HILLSTROM_ARMS[a] for a in arms],
        "visit": (rng.random(n) < rates).astype(int),
        "conversion": 0,
        "spend": 0.0,
    })


def write_hillstrom(path: Path, n: int, seed: int) -> Path:
    hillstrom_frame(n, seed).to_csv(path, index=False)
    return path


def bank_frame(n: int, seed: int) -> pd.DataFrame:
    """``n`` clients in Bank Marketing's columns (``;`` file), response driven by contact and month."""
    rng = np.random.default_rng(seed)
    contact = rng.choice(["cellular", "telephone"], size=n)
    month = rng.choice(["mar", "may", "oct"], size=n)
    pdays = np.where(rng.random(n) < 0.8, 999, rng.integers(0, 20, size=n))
    rate = 0.03 + 0.3 * (contact == "cellular") * (month != "may") + 0.2 * (pdays != 999)
    outcome = rng.random(n) < rate
    frame = pd.DataFrame({column: rng.integers(0, 5, size=n) for column in BANK_FEATURES})
    for column in ("job", "marital", "education", "default", "housing", "loan", "day_of_week", "poutcome"):
        frame[column] = rng.choice(["a", "b", "unknown"], size=n)
    frame["contact"], frame["month"], frame["pdays"] = contact, month, pdays
    frame["age"] = rng.integers(18, 90, size=n)
    frame["duration"] = np.where(outcome, 900, 10)
    frame["y"] = np.where(outcome, "yes", "no")
    return frame


def write_bank(path: Path, n: int, seed: int) -> Path:
    bank_frame(n, seed).to_csv(path, sep=";", index=False)
    return path
