"""Reply groundedness: the share of a reply's sentences that its sources support.

Offline, a sentence is supported when its embedding is close enough (cosine >= ``SUPPORT_SIMILARITY``)
to a source passage or to one of the passage's sentences. With an LLM configured, :func:`judge_llm`
asks the model sentence by sentence instead (the figure QA should trust for generated replies).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from agent.llm import ChatMessage, LlmClient, LlmError
from knowledge.embeddings import Embedder

#: Multilingual USE cosine above which a sentence restates (part of) a passage; paraphrases of one
#: fact score 0.6-0.9, a sentence about another topic of the same shop 0.2-0.5.
SUPPORT_SIMILARITY = 0.6

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` with at least three letters (greetings like "OK." are skipped)."""
    parts = (p.strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if sum(ch.isalpha() for ch in p) >= 3]


def groundedness(reply: str, passages: Sequence[str], embedder: Embedder) -> float | None:
    """Share of supported sentences, or ``None`` when there is no sentence or no passage to judge."""
    claims = sentences(reply)
    evidence = [*passages, *(s for p in passages for s in sentences(p))]
    if not claims or not evidence:
        return None
    vectors = embedder.embed(claims + evidence)
    similarity = vectors[: len(claims)] @ vectors[len(claims):].T
    return round(float(np.mean(similarity.max(axis=1) >= SUPPORT_SIMILARITY)), 4)


JUDGE_PROMPT = (
    "You check whether an SMS reply is supported by the passages it was written from. For each numbered "
    "sentence answer on its own line 'N: yes' when the passages state it (or it is a greeting or an offer "
    "of help), else 'N: no'. Answer nothing else."
)
_VERDICT = re.compile(r"^\s*(\d+)\s*[:.)-]\s*(yes|no)\b", re.IGNORECASE | re.MULTILINE)


def judge_llm(llm: LlmClient, reply: str, passages: Sequence[str]) -> float | None:
    """The LLM judge's share of supported sentences; ``None`` when it fails or answers unreadably."""
    claims = sentences(reply)
    if not claims or not passages:
        return None
    body = "Passages:\n" + "\n".join(f"- {p}" for p in passages) + "\n\nReply sentences:\n"
    body += "\n".join(f"{n}. {c}" for n, c in enumerate(claims, start=1))
    try:
        answer = llm.complete([ChatMessage("system", JUDGE_PROMPT), ChatMessage("user", body)], temperature=0.0)
    except LlmError:
        return None
    verdicts = {int(n): word.lower() == "yes" for n, word in _VERDICT.findall(answer.text)}
    if set(verdicts) != set(range(1, len(claims) + 1)):
        return None
    return round(sum(verdicts.values()) / len(claims), 4)
