"""Pydantic shapes of the variants API: the brief, a person's text to check, edits and decisions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.bodies import RequestBody

Tone = Literal["friendly", "premium", "playful", "direct"]
TONES: tuple[str, ...] = ("friendly", "premium", "playful", "direct")


class VariantRequest(RequestBody):
    """A brief: free text (any language) plus the fields the offline generator slots into its phrases.

    ``languages`` lists the languages to write in (``language``, a single one, is the older spelling
    and is folded into it). ``n`` variants are written per language. ``product`` is used as written
    in every language when it is a name ("Aurora", "Lampe 'Aurora'"); a common noun ("linen shirts")
    is only used in its own language unless ``product_names`` gives it per language.
    """

    brief: str = Field(min_length=3, max_length=2000)
    language: str | None = Field(default=None, min_length=2, max_length=8)
    languages: list[str] = Field(default_factory=list, max_length=6)
    n: int = Field(default=3, ge=1, le=10)
    tone: Tone = "friendly"
    offer: str = Field(default="", max_length=200)
    product: str = Field(default="", max_length=120)
    product_names: dict[str, str] = Field(default_factory=dict, max_length=6)
    deadline: str = Field(default="", max_length=60)
    link: str = Field(default="", max_length=300)
    goal: str = Field(default="", max_length=300)
    audience: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _fold_language(self) -> VariantRequest:
        wanted = [*self.languages, *([self.language] if self.language else [])]
        self.languages = list(dict.fromkeys(lang.strip().lower() for lang in wanted if lang.strip())) or ["en"]
        self.language = None
        return self


class CheckRequest(RequestBody):
    text: str = Field(min_length=1, max_length=2000)
    language: str = Field(default="en", min_length=2, max_length=8)
    kind: Literal["marketing", "transactional"] = "marketing"


class EditIn(RequestBody):
    """A person's new text for a pending variant (re-checked and audited)."""

    text: str = Field(min_length=1, max_length=2000)


class TranslateRequest(RequestBody):
    languages: list[str] = Field(min_length=1)


class DecisionIn(RequestBody):
    """``note``: why (a rejection's reason); ``template_name``: the approved variant's template name."""

    note: str = Field(default="", max_length=500)
    template_name: str = Field(default="", max_length=200)


class VariantOut(BaseModel):
    """A stored variant; ``angle`` is the offline generator's (urgency, benefit...) or empty;
    ``template_id`` is the template it became once approved (None before, or once that template is deleted)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    text: str
    language: str
    path: str
    score: float
    check: dict[str, Any]
    status: str
    decided_by: str
    decision_note: str
    parent_id: int | None
    angle: str
    template_id: int | None
