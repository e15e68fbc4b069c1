"""Conversation context for the pipeline: recent turns, repeated questions, several questions at once.

* :class:`Turn` is one earlier message of the thread, oldest first, as the pipeline sees it.
* :func:`count_repeats` says how many times the customer already asked (about) the same thing and
  got a bot answer: the policy escalates when that reaches ``settings.repeat_failure_limit``.
* :func:`split_questions` cuts "Where is my order? And can I pay by PayPal?" into its questions so
  each is retrieved and answered on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Role = Literal["customer", "bot", "agent", "system"]

#: Cosine similarity (multilingual USE) above which two customer messages ask the same thing.
#: Paraphrases of one question score 0.75-0.95; different questions on one topic 0.4-0.7.
REPEAT_SIMILARITY = 0.78

#: A question shorter than this many characters is merged with its neighbour ("ok? and returns?").
MIN_QUESTION_CHARS = 12

#: At most this many questions of one message are answered separately.
MAX_QUESTIONS = 3

_SENTENCE_END = re.compile(r"(?<=[?!.;])\s+|\n+")


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message: who wrote it and what it said."""

    role: Role
    text: str


def split_questions(text: str) -> list[str]:
    """The separate questions of ``text`` (at most ``MAX_QUESTIONS``), or ``[text]`` when it asks one.

    A part counts as a question when it ends with "?"; statements around questions stay attached
    to the following question ("I ordered a lamp. When will it arrive?" is one question).
    """
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]
    questions: list[str] = []
    pending = ""
    for part in parts:
        pending = f"{pending} {part}".strip()
        if part.endswith("?") and len(pending) >= MIN_QUESTION_CHARS:
            questions.append(pending)
            pending = ""
    if pending:
        if questions and len(pending) < MIN_QUESTION_CHARS:
            questions[-1] = f"{questions[-1]} {pending}"
        elif questions:
            questions.append(pending)
    if len(questions) <= 1:
        return [text.strip()]
    if len(questions) > MAX_QUESTIONS:
        questions = [*questions[: MAX_QUESTIONS - 1], " ".join(questions[MAX_QUESTIONS - 1 :])]
    return questions


def answered_customer_turns(history: Sequence[Turn]) -> list[str]:
    """Texts of the customer's earlier messages that the bot answered afterwards, oldest first."""
    answered: list[str] = []
    waiting: list[str] = []
    for turn in history:
        if turn.role == "customer":
            waiting.append(turn.text)
        elif turn.role == "bot" and waiting:
            answered.extend(waiting)
            waiting = []
        elif turn.role == "agent":
            # a person took part: earlier bot failures are no longer the bot's to count
            answered, waiting = [], []
    return answered


def count_repeats(vector: np.ndarray, earlier: np.ndarray, threshold: float = REPEAT_SIMILARITY) -> int:
    """How many rows of ``earlier`` (unit vectors) are at least ``threshold``-similar to ``vector``."""
    if earlier.size == 0:
        return 0
    return int((np.asarray(earlier) @ np.asarray(vector) >= threshold).sum())


def recent_turns(history: Sequence[Turn], limit: int = 6) -> list[Turn]:
    """The last ``limit`` turns (the LLM prompt's context)."""
    return list(history[-limit:]) if limit > 0 else []
