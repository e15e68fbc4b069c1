"""Cues that send a message to a person whatever the intent model reads (``agent/resources/cues.yaml``).

* ``contact``: the customer asks to be called or contacted ("rappelez-moi", "bitte melden Sie sich");
* ``urgent``: the customer says it is urgent ("dringend", "c'est urgent");
* ``legal``: a threat of legal action, a complaint to an authority or a payment dispute ("sonst gehe
  ich zum Anwalt", "je porte plainte", "I'll file a chargeback");
* ``damaged``: the item arrived damaged, broken, or is not the one ordered ("chegou estragada"); the wrong
  size or colour only when the customer says they received it ("The cushion I got is the wrong colour"):
  "wrong size, can I swap it?" and "I ordered the wrong size" ask for an exchange the knowledge base answers;
* ``outrage``: the customer calls the shop a fraud or thieves, or the matter a disgrace ("das ist eine
  Frechheit", "this is a rip-off", "c'est une arnaque");
* ``repeated``: the customer says they have asked several times already, or that nobody answers ("this is
  the third time I'm asking", "personne ne répond").

The policy (``agent.policy``) escalates on ``contact``, ``legal``, ``damaged``, ``outrage`` and ``repeated``,
never reads an opt-out into an ``urgent`` message, and asks no outraged customer to reply STOP. Matched over folded text
(``agent.entities.fold``) in every language at once: a word ordinary in one of the six languages ("court",
French for short) is not a cue.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal, get_args

import yaml

from agent.entities import fold, words_pattern

Cue = Literal["contact", "urgent", "legal", "damaged", "outrage", "repeated"]
CUES_FILE = Path(__file__).resolve().parent / "resources" / "cues.yaml"


#: Lists read together: a wrong size or colour is ``damaged`` when the text also says it was received.
_PARTS = ("wrong_variant", "received")


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))["cues"]
    return {cue: words_pattern([w for words in data[cue].values() for w in words])
            for cue in (*get_args(Cue), *_PARTS)}


def cues(text: str) -> frozenset[Cue]:
    """The cues ``text`` holds."""
    folded = fold(text)
    patterns = _patterns()
    found: set[Cue] = {cue for cue in get_args(Cue) if patterns[cue].search(folded)}
    if all(patterns[part].search(folded) for part in _PARTS):
        found.add("damaged")
    return frozenset(found)
