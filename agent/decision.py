"""The agent's answer about one inbound message: a typed, frozen :class:`Decision`.

Handoff, eval, the console and the inbound job all consume this one value. ``to_dict`` is the
JSON form stored on ``Message.analysis`` (with the rest of the analysis: without the reply's text, which the
reply's own encrypted body holds) and, with the text, returned by the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["reply", "escalate", "opt_out", "confirm_opt_out", "opt_in", "help", "silent"]
Path = Literal["llm", "offline", "keyword", "template", "none"]

ACTIONS: tuple[Action, ...] = ("reply", "escalate", "opt_out", "confirm_opt_out", "opt_in", "help", "silent")

#: Machine codes of :attr:`Decision.reason_code`; the human text is in :attr:`Decision.reason`.
REASON_CODES: tuple[str, ...] = (
    "keyword_opt_out",
    "keyword_help",
    "keyword_opt_in",
    "opt_out_intent",
    "opt_out_unsure",
    "human_requested",
    "abuse",
    "intent_escalates",
    "urgent",
    "legal_threat",
    "damage_reported",
    "grievance",
    "negative_sentiment",
    "repeated_failure",
    "late_order",
    "out_of_scope",
    "low_intent_confidence",
    "low_retrieval_score",
    "intent_template",
    "small_talk",
    "acknowledgement",
    "unintelligible",
    "answered_from_knowledge",
    "empty_message",
    "media_only",
    "human_owns_conversation",
)


@dataclass(frozen=True, slots=True)
class Source:
    """A knowledge chunk a reply was grounded in."""

    chunk_id: str
    document_id: str
    title: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "document_id": self.document_id, "title": self.title,
                "score": round(self.score, 4)}


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with an inbound message, and why.

    ``reply`` is the text to send for ``reply``/``opt_out``/``confirm_opt_out``/``opt_in``/``help``
    (None for ``escalate`` and ``silent``). ``confirm_opt_out`` changes no consent: its reply asks
    the customer to send the opt-out keyword. ``confidence`` is in [0, 1]. ``path`` says how the reply was
    made: ``llm``, ``offline`` (retrieval), ``keyword`` (compliance keyword), ``template`` (an
    intent's reply template) or ``none``. ``timings_ms`` maps each pipeline stage to its time.
    """

    action: Action
    confidence: float
    reason_code: str
    reason: str
    reply: str | None = None
    sources: tuple[Source, ...] = ()
    path: Path = "none"
    language: str = "en"
    sentiment: float = 0.0
    intent: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if self.reason_code not in REASON_CODES:
            raise ValueError(f"unknown reason code {self.reason_code!r}")

    @property
    def escalates(self) -> bool:
        return self.action == "escalate"

    def to_dict(self, *, with_reply: bool = False) -> dict[str, Any]:
        """The decision as JSON; the reply's text only ``with_reply``: ``Message.analysis`` is a plain JSON column
        (reports group by its keys in SQL), and a reply may repeat what the customer wrote (an LLM's, a name or an
        order number), so what is stored keeps only whether there was one."""
        return {
            "action": self.action,
            "confidence": round(self.confidence, 4),
            "reason_code": self.reason_code,
            "reason": self.reason,
            "reply": self.reply if with_reply else None,
            "replied": self.reply is not None,
            "sources": [s.to_dict() for s in self.sources],
            "path": self.path,
            "language": self.language,
            "sentiment": round(self.sentiment, 4),
            "intent": self.intent,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
