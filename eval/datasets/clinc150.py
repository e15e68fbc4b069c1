"""Loader for CLINC150 / OOS-eval (Larson et al., EMNLP 2019) in its own JSON format.

The file is one JSON object whose keys are split names (``train``, ``val``, ``oos_train``,
``oos_val`` in ``clinc150_train_val.json``; ``test``, ``oos_test`` in the official test file) and
whose values are lists of ``[text, intent]`` pairs. Whatever split keys the file holds are loaded,
so the same code reads every split. The label ``oos`` marks an out-of-scope query; rows carry
``intent=None`` for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The label CLINC150 gives out-of-scope queries.
OOS_LABEL = "oos"


class DatasetFormatError(ValueError):
    """The file is not in the data set's format; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class ClincRow:
    """One query: ``intent`` is the CLINC150 intent name, or None when the query is out of scope."""

    text: str
    intent: str | None
    split: str

    @property
    def is_oos(self) -> bool:
        return self.intent is None


def load_clinc150(path: str | Path, splits: Iterable[str] | None = None) -> dict[str, list[ClincRow]]:
    """Read a CLINC150-format JSON file into ``{split: rows}``.

    ``splits`` restricts (and orders) the splits returned; asking for a split the file lacks raises
    :class:`DatasetFormatError`, as does any item that is not a ``[text, intent]`` pair of strings.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise DatasetFormatError(f"{path}: expected an object of split name -> list of [text, intent]")
    wanted = list(raw) if splits is None else list(splits)
    missing = [name for name in wanted if name not in raw]
    if missing:
        raise DatasetFormatError(f"{path}: no split(s) {missing}; the file holds {sorted(raw)}")
    out: dict[str, list[ClincRow]] = {}
    for name in wanted:
        items = raw[name]
        if not isinstance(items, list):
            raise DatasetFormatError(f"{path}: split {name!r} is not a list")
        rows = []
        for i, item in enumerate(items):
            if not isinstance(item, list) or len(item) != 2 or not all(isinstance(part, str) for part in item):
                raise DatasetFormatError(f"{path}: {name}[{i}] is not a [text, intent] pair of strings")
            text, label = item
            rows.append(ClincRow(text=text, intent=None if label == OOS_LABEL else label, split=name))
        out[name] = rows
    return out
