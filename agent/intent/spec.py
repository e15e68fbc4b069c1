"""The intent spec: the YAML file in which a deployment describes what its customers ask for.

Format (one file per deployment)::

    intents:
      - name: order_status              # letters, digits, "_"; unique
        description: Where is my parcel  # optional, for people
        escalate: false                   # optional; true hands the conversation to a human
        examples:                         # a list, or a mapping language -> list
          en: ["where is my order", "has my parcel shipped"]
          fr: ["où en est ma commande"]
        reply: "Track it at {tracking_url}"   # optional text, or a mapping language -> text
    out_of_scope:                         # optional: messages this deployment does NOT handle
      - "what's the weather tomorrow"

Every deployment also gets the built-in intents of ``agent/resources/intents_builtin.yaml``
(opt-out, human agent, greeting, thanks, goodbye, abuse) through :func:`merge_with_builtins`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ValidationFailed

#: Intents every deployment has; the pipeline and policy rely on these names.
BUILTIN_PATH = Path(__file__).resolve().parent.parent / "resources" / "intents_builtin.yaml"
MIN_EXAMPLES = 2
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")

Examples = list[str] | dict[str, list[str]]


class IntentSpecError(ValidationFailed):
    """The spec file is wrong; ``detail`` names the file, the intent and the problem, one per line."""


def _clean_examples(value: Examples) -> Examples:
    def clean(items: list[str], where: str) -> list[str]:
        out = [" ".join(item.split()) for item in items]
        if any(not item for item in out):
            raise ValueError(f"empty example{where}")
        return out

    if isinstance(value, dict):
        for lang in value:
            if not _LANGUAGE.match(lang):
                raise ValueError(f"language key {lang!r} is not an ISO 639 code such as 'en'")
        return {lang: clean(items, f" in language {lang!r}") for lang, items in value.items()}
    return clean(value, "")


class IntentDef(BaseModel):
    """One intent: a name, example messages, whether it escalates, an optional reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    examples: Examples
    escalate: bool = False
    reply: str | dict[str, str] | None = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be letters, digits and '_', starting with a letter (max 64 characters)")
        return value

    @field_validator("examples")
    @classmethod
    def _check_examples(cls, value: Examples) -> Examples:
        cleaned = _clean_examples(value)
        distinct = {text.casefold() for text in _flatten(cleaned)}
        if len(distinct) < MIN_EXAMPLES:
            raise ValueError(f"needs at least {MIN_EXAMPLES} distinct examples, has {len(distinct)}")
        return cleaned

    @field_validator("reply")
    @classmethod
    def _check_reply(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(value, dict):
            for lang, text in value.items():
                if not _LANGUAGE.match(lang):
                    raise ValueError(f"language key {lang!r} is not an ISO 639 code such as 'en'")
                if not text.strip():
                    raise ValueError(f"empty reply for language {lang!r}")
        elif value is not None and not value.strip():
            raise ValueError("empty reply: leave it out instead")
        return value

    def all_examples(self) -> list[str]:
        """Every example, all languages together, in file order."""
        return _flatten(self.examples)

    def reply_for(self, language: str | None, fallback: str = "en") -> str | None:
        """The reply in ``language``, else in ``fallback``, else the first one given; None when none."""
        if self.reply is None or isinstance(self.reply, str):
            return self.reply
        for lang in (language, fallback):
            if lang and lang in self.reply:
                return self.reply[lang]
        return next(iter(self.reply.values()), None)


def _flatten(examples: Examples) -> list[str]:
    if isinstance(examples, dict):
        return [text for items in examples.values() for text in items]
    return list(examples)


class IntentSpec(BaseModel):
    """A whole deployment's intents, plus optional out-of-scope examples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intents: list[IntentDef] = Field(min_length=1)
    out_of_scope: Examples = Field(default_factory=list)
    #: merge the generic out-of-scope pool of the built-in spec (see merge_with_builtins)
    generic_out_of_scope: bool = True

    @field_validator("out_of_scope")
    @classmethod
    def _check_oos(cls, value: Examples) -> Examples:
        return _clean_examples(value)

    @model_validator(mode="after")
    def _check_consistency(self) -> IntentSpec:
        problems = []
        seen: dict[str, int] = {}
        for intent in self.intents:
            seen[intent.name] = seen.get(intent.name, 0) + 1
        problems += [f"intent {name!r}: defined {n} times" for name, n in seen.items() if n > 1]
        owner: dict[str, str] = {}
        for intent in self.intents:
            for text in intent.all_examples():
                key = text.casefold()
                other = owner.setdefault(key, intent.name)
                if other != intent.name:
                    problems.append(f"intent {intent.name!r}: example {text!r} is also an example of {other!r}")
        for text in _flatten(self.out_of_scope):
            if text.casefold() in owner:
                problems.append(f"out_of_scope: example {text!r} is also an example of {owner[text.casefold()]!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def names(self) -> list[str]:
        return [intent.name for intent in self.intents]

    def get(self, name: str) -> IntentDef | None:
        return next((intent for intent in self.intents if intent.name == name), None)

    def out_of_scope_examples(self) -> list[str]:
        return _flatten(self.out_of_scope)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON form: equal specs hash equal whatever the YAML layout."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), allow_unicode=True, sort_keys=False)


def _describe(error: Mapping[str, Any], data: Any) -> str:
    """One line for a pydantic error, naming the intent by its name when it has one."""
    loc = list(error.get("loc", ()))
    parts = []
    if len(loc) >= 2 and loc[0] == "intents" and isinstance(loc[1], int):
        name = None
        if isinstance(data, dict) and isinstance(data.get("intents"), list) and loc[1] < len(data["intents"]):
            item = data["intents"][loc[1]]
            name = item.get("name") if isinstance(item, dict) else None
        parts.append(f"intent #{loc[1] + 1}" + (f" {name!r}" if name else ""))
        loc = loc[2:]
    # pydantic adds the union branch ("list[str]", "dict[str,list[str]]") to the location; drop it
    field = ".".join(str(p) for p in loc if not (isinstance(p, str) and "[" in p))
    if field:
        parts.append(field)
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return ": ".join([*parts, message])


def parse_spec(data: Any, source: str = "<spec>") -> IntentSpec:
    """Validate already-parsed YAML/JSON data; raises :class:`IntentSpecError` naming ``source``."""
    if not isinstance(data, dict):
        raise IntentSpecError(f"{source}: expected a mapping with an 'intents' list")
    try:
        return IntentSpec.model_validate(data)
    except ValidationError as exc:
        seen: list[str] = []
        for err in exc.errors():
            line = _describe(err, data)
            if line not in seen:
                seen.append(line)
        lines = [f"{source}: {line}" for line in seen]
        raise IntentSpecError("\n".join(lines), errors=[{"message": line} for line in lines]) from exc


def load_spec(path: str | Path) -> IntentSpec:
    """Read and validate a spec YAML file (without the built-in intents)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IntentSpecError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise IntentSpecError(f"{path}: not valid YAML ({exc})") from exc
    return parse_spec(data, source=str(path))


def builtin_spec() -> IntentSpec:
    """The built-in intents shipped with Relais."""
    return load_spec(BUILTIN_PATH)


@functools.cache
def builtin_names() -> frozenset[str]:
    """The names of the built-in intents (read once)."""
    return frozenset(builtin_spec().names)


def _merge_examples(base: Examples, extra: Examples) -> Examples:
    """Union of two example sets, keeping order; a plain list meets a mapping as language ``und``."""
    if isinstance(base, list) and isinstance(extra, list):
        return base + [text for text in extra if text not in base]
    merged: dict[str, list[str]] = {}
    for examples in (base, extra):
        # "und" is ISO 639-2 for "undetermined": untagged examples keep no language
        for lang, items in (examples if isinstance(examples, dict) else {"und": examples}).items():
            bucket = merged.setdefault(lang, [])
            bucket += [text for text in items if text not in bucket]
    return merged


def _without(pool: Examples, intents: list[IntentDef]) -> Examples:
    """``pool`` minus texts that are examples of ``intents``: a deployment's own examples win."""
    taken = {text.casefold() for intent in intents for text in intent.all_examples()}
    if isinstance(pool, dict):
        return {lang: [t for t in items if t.casefold() not in taken] for lang, items in pool.items()}
    return [t for t in pool if t.casefold() not in taken]


def merge_with_builtins(spec: IntentSpec, builtins: IntentSpec | None = None) -> IntentSpec:
    """``spec`` plus the built-in intents.

    A deployment intent named like a built-in one extends it: examples are added to the built-in
    ones (so a deployment can never weaken opt-out detection), while its ``escalate``, ``reply`` and
    ``description`` replace the built-in values when given. The built-in spec's generic
    out-of-scope pool joins the deployment's own out-of-scope examples unless the deployment sets
    ``generic_out_of_scope: false`` (do that when the pool's everyday questions are in scope); a
    pool entry that is also one of the deployment's examples is dropped.
    """
    builtins = builtins or builtin_spec()
    own = {intent.name: intent for intent in spec.intents}
    merged: list[IntentDef] = []
    for base in builtins.intents:
        custom = own.pop(base.name, None)
        if custom is None:
            merged.append(base)
            continue
        merged.append(
            IntentDef(
                name=base.name,
                examples=_merge_examples(base.examples, custom.examples),
                escalate=custom.escalate if "escalate" in custom.model_fields_set else base.escalate,
                reply=custom.reply if custom.reply is not None else base.reply,
                description=custom.description or base.description,
            )
        )
    merged += [intent for intent in spec.intents if intent.name in own]
    try:
        out_of_scope = spec.out_of_scope
        if spec.generic_out_of_scope:
            out_of_scope = _merge_examples(out_of_scope, _without(builtins.out_of_scope, merged))
        return IntentSpec(intents=merged, out_of_scope=out_of_scope, generic_out_of_scope=spec.generic_out_of_scope)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise IntentSpecError(f"merging with the built-in intents: {problems}") from exc


def load_deployment_spec(path: str | Path) -> IntentSpec:
    """What ``relais intents load FILE`` trains on: the file's intents merged with the built-in ones."""
    return merge_with_builtins(load_spec(path))
