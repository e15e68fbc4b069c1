"""A short summary of a conversation for the agent taking it over.

With an LLM configured it writes two sentences (PII redacted from the prompt); otherwise, or when
the LLM fails, an extractive summary picks the customer's most central sentences and quotes each
of the customer's texts apart, numbered in the order they came ("Customer's texts: (1) “…” (2)
“…”"; a number left out is a text with nothing kept), so the agent can tell one text from the next.
The result says which path produced it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.llm import ChatMessage, LlmError, get_llm
from agent.pii import redact
from core.settings import get_settings
from knowledge.embeddings import get_embedder

_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
#: A reason given as its machine code ("media_only", "agent_takeover") when no sentence was stored.
_REASON_CODE = re.compile(r"[a-z]+(?:_[a-z]+)*")


@dataclass(frozen=True)
class ThreadLine:
    author_type: str  # customer, bot, agent, system, campaign
    text: str


@dataclass(frozen=True)
class Summary:
    text: str
    path: str  # "llm" | "offline" | "empty"


def _extractive(lines: Sequence[ThreadLine], reason: str, max_sentences: int) -> str:
    texts = [line.text for line in lines if line.author_type == "customer"]
    # (number of the customer's text, sentence), oldest first
    sentences = [(n, s.strip()) for n, text in enumerate(texts, start=1) for s in _SENTENCE.split(text) if s.strip()]
    if not sentences:
        return ""
    if len(sentences) > max_sentences:
        vectors = get_embedder(get_settings().embedding_backend).embed([s for _, s in sentences])
        centrality = vectors @ vectors.mean(axis=0)
        keep = sorted(np.argsort(-centrality)[:max_sentences])
        sentences = [sentences[i] for i in keep]
    kept: dict[int, list[str]] = {}
    for n, sentence in sentences:
        kept.setdefault(n, []).append(sentence)
    # a text only partly kept says so, so the quote is not taken for all the customer wrote
    quotes = {n: " ".join(parts) + ("" if " ".join(parts) == " ".join(texts[n - 1].split()) else " …")
              for n, parts in kept.items()}  # fmt: skip
    if len(texts) == 1:
        summary = f"Customer: “{quotes[1]}”"
    else:
        summary = "Customer's texts: " + " ".join(f"({n}) “{quote}”" for n, quote in quotes.items())
    return f"{summary} Escalated: {_reason_words(reason)}." if reason else summary


def _reason_words(reason: str) -> str:
    """``reason`` as the agent reads it: a machine code in words ("media_only" -> "Media only"), a
    sentence as it is (the summary quoted codes when an escalation stored no sentence)."""
    if _REASON_CODE.fullmatch(reason):
        return reason.replace("_", " ").capitalize()
    return reason


def summarise(lines: Sequence[ThreadLine], *, reason: str = "", max_sentences: int = 3) -> Summary:
    """Summarise ``lines`` (oldest first); never raises because of the LLM."""
    if not any(line.text.strip() for line in lines):
        return Summary(text="", path="empty")
    client = get_llm(get_settings())
    if client is not None:
        transcript = "\n".join(f"{line.author_type}: {redact(line.text)}" for line in lines[-20:])
        prompt = [
            ChatMessage(
                "system",
                "Summarise this SMS support conversation for the human agent taking it over, in two short "
                "sentences: what the customer wants and what was already tried. No greetings.",
            ),
            ChatMessage("user", f"{transcript}\nEscalation reason: {reason or 'unknown'}"),
        ]
        try:
            return Summary(text=client.complete(prompt, max_tokens=120).text, path="llm")
        except LlmError:
            pass
    return Summary(text=_extractive(lines, reason, max_sentences), path="offline")
