"""The LLM responder: grounded generation through an OpenAI-compatible endpoint.

It is only asked when the policy already decided to reply and retrieval found passages. Its answer
is checked before use: ``NO_ANSWER`` (the model found nothing in the passages), a reply that
cannot be brought within the SMS budget, a timeout or any API error all return ``None`` with the
reason, and the caller sends the offline answer instead, never silence.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.context import Turn, recent_turns
from agent.llm import LlmClient, LlmError
from agent.responder import Answer, Question, source_of
from agent.responder.offline import MAX_SEGMENTS, fit_parts, fits
from agent.responder.prompts import NO_ANSWER, BrandVoice, build_messages

#: Characters the model is asked to stay under: two GSM-7 segments (2 x 153) with a margin.
MAX_CHARS = 280


def answer_llm(
    client: LlmClient,
    *,
    text: str,
    questions: Sequence[Question],
    history: Sequence[Turn],
    language: str,
    brand: BrandVoice,
    min_score: float,
) -> tuple[Answer | None, str | None]:
    """``(answer, None)`` on success, else ``(None, reason)`` with reason ``timeout``,
    ``connection``, ``http``, ``empty``, ``refused`` or ``too_long``."""
    grounded = [Question(q.text, tuple(h for h in q.hits if h.score >= min_score)) for q in questions]
    grounded = [q for q in grounded if q.hits]
    if not grounded:
        return None, "refused"
    messages = build_messages(text=text, questions=grounded, turns=recent_turns(history), language=language,
                              brand=brand, max_chars=MAX_CHARS)
    try:
        completion = client.complete(messages)
    except LlmError as exc:
        return None, exc.kind
    reply = " ".join(completion.text.split())
    if NO_ANSWER in reply.upper().replace(" ", "_"):
        return None, "refused"
    if not fits(reply, MAX_SEGMENTS):
        reply = fit_parts([reply], MAX_SEGMENTS)
        if not reply or reply.endswith("..."):
            return None, "too_long"
    sources = tuple(source_of(q.hits[0]) for q in grounded)
    return Answer(text=reply, sources=sources, path="llm"), None
