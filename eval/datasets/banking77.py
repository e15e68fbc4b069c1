"""Loader for BANKING77 (PolyAI, Casanueva et al. 2020) in its own CSV format.

Any CSV with a header ``text,category`` loads, so the official test file reads the same way as
``train.csv``. Only a training split ships here, so :func:`carve_validation` makes a deterministic,
stratified validation split from it, and :func:`few_shot` a deterministic k-per-intent subset.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.clinc150 import DatasetFormatError


@dataclass(frozen=True, slots=True)
class BankingRow:
    """One customer query and its intent (``category``)."""

    text: str
    category: str


def load_banking77(path: str | Path) -> list[BankingRow]:
    """Read a ``text,category`` CSV; raises :class:`DatasetFormatError` on a wrong header or empty cell."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
            raise DatasetFormatError(f"{path}: expected a header with columns text,category")
        rows = []
        for line_no, record in enumerate(reader, start=2):
            text, category = (record.get("text") or "").strip(), (record.get("category") or "").strip()
            if not text or not category:
                raise DatasetFormatError(f"{path}: line {line_no} has an empty text or category")
            rows.append(BankingRow(text=text, category=category))
    return rows


def _by_category(rows: Sequence[BankingRow]) -> dict[str, list[BankingRow]]:
    groups: dict[str, list[BankingRow]] = defaultdict(list)
    for row in rows:
        groups[row.category].append(row)
    return groups


def carve_validation(
    rows: Sequence[BankingRow], fraction: float = 0.1, seed: int = 13
) -> tuple[list[BankingRow], list[BankingRow]]:
    """Split ``rows`` into (train, validation), taking ``fraction`` of every category (at least one).

    The split depends only on the set of rows, ``fraction`` and ``seed`` (not on the file's order),
    so every run sees the same one.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    train: list[BankingRow] = []
    val: list[BankingRow] = []
    for category, group in sorted(_by_category(rows).items()):
        shuffled = sorted(group, key=lambda row: row.text)  # independent of the file's order
        random.Random(f"{seed}:{category}").shuffle(shuffled)
        n_val = max(1, round(len(shuffled) * fraction)) if len(shuffled) > 1 else 0
        val.extend(shuffled[:n_val])
        train.extend(shuffled[n_val:])
    return train, val


def few_shot(rows: Sequence[BankingRow], per_category: int, seed: int = 13) -> list[BankingRow]:
    """A deterministic subset with at most ``per_category`` rows of every category."""
    subset: list[BankingRow] = []
    for category, group in sorted(_by_category(rows).items()):
        shuffled = sorted(group, key=lambda row: row.text)
        random.Random(f"{seed}:{category}:few").shuffle(shuffled)
        subset.extend(shuffled[:per_category])
    return subset
