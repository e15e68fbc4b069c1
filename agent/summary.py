"""A short summary of a conversation for the agent taking it over.

With an LLM configured it writes two sentences (PII redacted from the prompt); otherwise, or when
the LLM fails, an extractive summary picks the customer's most central sentences and quotes each
of the customer's texts apart, numbered in the order they came ("Customer's texts: (1) “…” (2)
“…”"; a number left out is a text with nothing kept), so the agent can tell one text from the next.
The result says which path produced it.

A thread a person handed back to the bot or closed says so, when and by whom, in place of the bare
"Escalated: …" (which read as if the customer were still waiting for a person after the agent had finished).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


class Ended(Protocol):
    """How a person's stretch on the thread ended (``handoff.service.ending`` gives one)."""

    @property
    def how(self) -> str: ...  # "handed_back" or "closed"

    @property
    def at(self) -> datetime: ...  # UTC

    @property
    def by(self) -> str: ...  # who did it, "" when unknown

    @property
    def disposition(self) -> str | None: ...  # a close's disposition ("resolved", "spam"...)


@dataclass(frozen=True)
class Summary:
    text: str
    path: str  # "llm" | "offline" | "empty"


def _extractive(lines: Sequence[ThreadLine], max_sentences: int) -> str:
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
    return summary


def utc_words(at: datetime) -> str:
    """How the summary writes the moment a person ended their stretch ("2026-12-01 09:42 UTC"); the console finds
    these words in the text to show that moment in the reader's own time zone."""
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _state_words(reason: str, ended: Ended | None) -> str:
    """Where the thread stands: escalated and why, or how a person ended it, when and by whom."""
    if ended is None:
        return f"Escalated: {_reason_words(reason)}." if reason else ""
    by = f" by {ended.by}" if ended.by else ""
    when = utc_words(ended.at)
    if ended.how == "handed_back":
        words = f"Handed back to the bot at {when}{by}"
    else:
        disposition = (ended.disposition or "").replace("_", " ")
        words = f"Closed at {when}{by}" + (f" as {disposition}" if disposition else "")
    return f"{words} (it had been escalated: {_reason_words(reason)})." if reason else f"{words}."


def _reason_words(reason: str) -> str:
    """``reason`` as the agent reads it: a machine code in words ("media_only" -> "Media only"), a
    sentence as it is (the summary quoted codes when an escalation stored no sentence)."""
    if _REASON_CODE.fullmatch(reason):
        return reason.replace("_", " ").capitalize()
    return reason


def summarise(
    lines: Sequence[ThreadLine], *, reason: str = "", ended: Ended | None = None, max_sentences: int = 3
) -> Summary:
    """Summarise ``lines`` (oldest first); never raises because of the LLM.

    ``reason`` is why the thread was escalated; ``ended`` how a person then ended their stretch (handed back,
    closed), said after the customer's words whichever path wrote them, as it is a fact and not a reading.
    """
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
            text = client.complete(prompt, max_tokens=120).text
            return Summary(text=_joined(text, _state_words("", ended) if ended else ""), path="llm")
        except LlmError:
            pass
    quoted = _extractive(lines, max_sentences)
    return Summary(text=_joined(quoted, _state_words(reason, ended)) if quoted else "", path="offline")


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)
