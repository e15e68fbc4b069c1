"""Labelled cases: single messages or short conversations with what Relais should do.

A suite file is YAML (a list, or ``{"cases": [...]}``) or JSON Lines, one case per item::

    - id: faq-shipping-fr
      text: "Combien coûte la livraison ?"
      turns: ["Bonjour"]             # earlier customer messages, optional
      contact_language: fr           # optional prior
      expect:
        language: fr
        decision: reply              # or decision_in: [reply, escalate]
        intent: shipping_cost        # "oos" for out-of-scope
        sentiment: neutral
        source: "livraison"          # substring of the expected passage's title or id
        must_contain: ["4,90"]
        must_not_contain: ["system prompt"]
      tags: [faq]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from core.errors import ValidationFailed


class Expectation(BaseModel):
    language: str | None = None
    decision: str | None = None
    decision_in: list[str] = Field(default_factory=list)
    intent: str | None = None
    sentiment: str | None = None
    source: str | None = None
    must_contain: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)

    def decisions(self) -> list[str]:
        return self.decision_in or ([self.decision] if self.decision else [])


class Case(BaseModel):
    id: str
    text: str
    turns: list[str] = Field(default_factory=list)
    contact_language: str | None = None
    expect: Expectation = Field(default_factory=Expectation)
    tags: list[str] = Field(default_factory=list)


def _items(path: Path) -> list[Any]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        items = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValidationFailed(f"{path}:{number}: not JSON ({exc.msg})") from None
        return items
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path}: not YAML ({exc})") from None
    if isinstance(data, dict):
        data = data.get("cases")
    if not isinstance(data, list):
        raise ValidationFailed(f"{path}: expected a list of cases (or a mapping with 'cases')")
    return data


def load_cases(path: str | Path) -> list[Case]:
    """Parse a suite file; errors name the file, the case and the field."""
    path = Path(path)
    cases = []
    for index, item in enumerate(_items(path)):
        try:
            cases.append(Case.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            ident = item.get("id", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
            raise ValidationFailed(f"{path}: case {ident}: {where}: {first['msg']}") from None
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationFailed(f"{path}: duplicate case ids {duplicates}")
    return cases


def by_tag(cases: Sequence[Case], tag: str) -> list[Case]:
    return [c for c in cases if tag in c.tags]
