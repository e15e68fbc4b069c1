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

An opt-out case (one that allows only ``opt_out`` or ``confirm_opt_out``) gets ``seen`` computed when
loaded, never written by hand: true when its text, normalised as the keyword table normalises
(case, accents, punctuation), is a keyword of the table (any kind, any language), an example of
the built-in intents or an example of a shipped deployment's intents (``examples/*/intents*.yaml``);
false for a phrasing no table and no training example holds. Its tags gain ``seen`` or ``unseen``
so reports break pass rates down by it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.intent.spec import builtin_spec, load_spec
from agent.keywords import KeywordKind, keywords
from core.errors import ValidationFailed
from core.text import fold_words

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
OPT_OUT_DECISIONS = frozenset({"opt_out", "confirm_opt_out"})
_KEYWORD_LANGUAGES = ("en", "fr", "es", "de", "it", "pt")


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
    seen: bool | None = Field(None, description="computed for opt-out cases (module docstring); never given")

    @property
    def is_opt_out(self) -> bool:
        """Whether the case asks to stop: every decision it allows opts out or asks to confirm one
        (a harmless look-alike that may be asked to confirm is not one)."""
        decisions = set(self.expect.decisions())
        return bool(decisions) and decisions <= OPT_OUT_DECISIONS


@functools.cache
def seen_phrasings() -> frozenset[str]:
    """Every normalised phrasing a table or a training example holds (module docstring)."""
    found = {fold_words(word) for kind in get_args(KeywordKind) for lang in _KEYWORD_LANGUAGES
             for word in keywords(kind, lang)}
    specs = [builtin_spec(), *(load_spec(path) for path in sorted(EXAMPLES_DIR.glob("*/intents*.yaml")))]
    found |= {fold_words(text) for spec in specs for intent in spec.intents for text in intent.all_examples()}
    return frozenset(found)


def _with_seen(case: Case) -> Case:
    if not case.is_opt_out:
        return case
    seen = fold_words(case.text) in seen_phrasings()
    return case.model_copy(update={"seen": seen, "tags": [*case.tags, "seen" if seen else "unseen"]})


def unseen_share(cases: Sequence[Case]) -> float | None:
    """The share of the opt-out cases whose phrasing no table and no training example holds."""
    flags = [case.seen is False for case in cases if case.is_opt_out]
    return round(sum(flags) / len(flags), 4) if flags else None


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
        if isinstance(item, dict) and ("seen" in item or {"seen", "unseen"} & set(item.get("tags") or ())):
            raise ValidationFailed(f"{path}: case {item.get('id', f'#{index + 1}')}: seen is computed, not written")
        try:
            cases.append(_with_seen(Case.model_validate(item)))
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
