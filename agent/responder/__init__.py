"""Reply writers: ``offline`` (FAQ answers and passage sentences) and ``llm`` (grounded generation).

Both take the same :class:`Question` values (one per question of the message, with the passages
retrieved for it) and return an :class:`Answer`; ``agent.pipeline`` picks the LLM when one is
configured and falls back to the offline answer whenever it fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.answerability import Candidate
from agent.decision import Source
from knowledge.types import Hit


@dataclass(frozen=True)
class Question:
    """One question of the customer's message and the passages retrieved for it, best first.

    ``candidates`` are the same passages re-scored by ``agent.answerability`` (the offline
    responder answers from them); ``text`` is the query retrieval used, which for a follow-up
    ("and for express?") includes the earlier question, and ``asked`` the follow-up's own words.
    """

    text: str
    hits: tuple[Hit, ...]
    candidates: tuple[Candidate, ...] = ()
    asked: str | None = None

    @property
    def best_score(self) -> float:
        return max((h.score for h in self.hits), default=0.0)


@dataclass(frozen=True)
class Answer:
    """A reply, the chunks it came from, and how it was made (``llm`` or ``offline``).

    ``fallback`` names why the LLM path was not used when it was configured (``timeout``,
    ``injection``, ``refused``...), else None.
    """

    text: str
    sources: tuple[Source, ...]
    path: str
    fallback: str | None = None


def source_of(hit: Hit) -> Source:
    return Source(chunk_id=hit.chunk_id, document_id=hit.document_id,
                  title=hit.question or hit.heading_path or hit.title, score=hit.score)
