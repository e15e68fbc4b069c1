"""Cues that send a message to a person whatever the intent model reads (``agent/resources/cues.yaml``).

* ``contact``: the customer asks to be called or contacted ("rappelez-moi", "bitte melden Sie sich");
* ``urgent``: the customer says it is urgent ("dringend", "c'est urgent");
* ``legal``: a threat of legal action, a complaint to an authority or a payment dispute ("sonst gehe
  ich zum Anwalt", "je porte plainte", "I'll file a chargeback");
* ``damaged``: the item arrived damaged, broken, or is not the one ordered ("chegou estragada"), or one is missing
  from the order ("il manque une bougie", with a word of receiving or of the order); the wrong
  size or colour only when the customer says they received it ("The cushion I got is the wrong colour"):
  "wrong size, can I swap it?" and "I ordered the wrong size" ask for an exchange the knowledge base answers;
* ``outrage``: the customer calls the shop a fraud or thieves, or the matter a disgrace ("das ist eine
  Frechheit", "this is a rip-off", "c'est une arnaque");
* ``repeated``: the customer says they have asked several times already, that nobody answers, or that they still
  have nothing ("this is the third time I'm asking", "personne ne répond", "Toujours rien ??");
* ``late``: the customer says their order has not arrived, still, after a stated wait or without asking anything
  ("ma commande n'est toujours pas arrivée, ça fait 10 jours", "My order 45821 hasn't arrived yet" got the tracking
  FAQ), or that it is late ("my parcel is late", "ma commande est en retard"): the bot cannot see where a parcel is, a
  person looks the order up. A refund not yet received is not one (the refund terms answer it), nor a question where a
  parcel not arrived yet is ("my order hasn't arrived yet, when will it come?": the tracking answer).
* ``cancel_order``: the customer cancels an order ("quiero anular mi pedido": the ``cancellation`` topic of
  ``agent/resources/topics.yaml`` and an order word), naming no messages, texts or subscription: an opt-out the
  intent model is unsure of on such a text is not one ("Hola, quiero anular mi pedido" was opt_out 0.57, asked to
  reply BAJA);
* ``reach_us``: the customer asks for the business's phone number or e-mail address (``agent.entities.asks_contact``):
  no opt-out either ("¿Cuál es vuestro número de teléfono?" was opt_out 0.74, asked to reply BAJA);
* ``named_person``: the customer asks to speak to someone by name ("ich will mit Jonas sprechen", "je voudrais parler à
  Sophie", "quiero hablar con Marta": out of scope for the intent model, 0.77-0.92), which is asking for a person.

The policy (``agent.policy``) escalates on ``contact``, ``named_person``, ``legal``, ``damaged``, ``outrage``,
``repeated`` and ``late``, never reads an opt-out into an ``urgent`` message, asks no outraged customer to reply STOP,
and reads no unsure opt-out into a ``cancel_order`` or ``reach_us`` text. Matched over folded text
(``agent.entities.fold``) in every language at once (``named_person`` over the text as written: a name's capital): a
word ordinary in one of the six languages ("court", French for short) is not a cue.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal, get_args

import yaml

from agent.entities import asks_contact, fold, states_duration, topics, words_pattern
from agent.smalltalk import asks_something

Cue = Literal["contact", "urgent", "legal", "damaged", "outrage", "repeated", "late", "cancel_order", "reach_us",
              "named_person"]
CUES_FILE = Path(__file__).resolve().parent / "resources" / "cues.yaml"


#: Lists read together: a wrong size or colour is ``damaged`` when the text also says it was received; an order
#: not arrived is ``late`` when the text also says the customer has been waiting ("still", "since") or states a period.
_PARTS: dict[Cue, tuple[str, ...]] = {"damaged": ("wrong_variant", "received"), "late": ("order", "not_arrived")}
_ALONE: tuple[Cue, ...] = tuple(cue for cue in get_args(Cue)
                                if cue not in ("late", "cancel_order", "reach_us", "named_person"))

# Asking to speak to someone by name, over the text as written (the name's capital tells it from a noun): a verb of
# speaking in the infinitive ("I spoke to Jonas" or "j'ai parlé à Sophie" tell what happened) with its preposition,
# perhaps a title, then a capitalised name. German capitalises every noun and puts the verb last: "mit" or a title, the
# name, then "sprechen" or "reden" ("Können wir Deutsch sprechen?" asks for a language, not a person).
_TITLE = (r"(?:(?i:mr|mrs|ms|miss|dr|m|mme|mlle|monsieur|madame|el|la|don|dona|doña|se[nñ]or|se[nñ]ora|sr|sra|il|"
          r"signor|signora|sig|o|a|senhor|senhora|herrn?|frau|dem|der)\.?\s+)")
_NAME = r"[A-ZÀ-Ý][a-zà-ÿ'’-]+"
_NAMED_PERSON = re.compile(
    r"\b(?i:(?:speak|talk|chat)\s+(?:to|with)|parler\s+(?:à|a|avec)|hablar\s+con|parlare\s+con|falar\s+com)\s+"
    rf"{_TITLE}?{_NAME}|"
    rf"\b(?:(?i:mit)\s+{_TITLE}?|{_TITLE}){_NAME}\s+(?i:sprechen|reden)\b")


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))["cues"]
    return {cue: words_pattern([w for words in data[cue].values() for w in words])
            for cue in (*_ALONE, *(part for parts in _PARTS.values() for part in parts), "waiting", "overdue",
                        "messages", "missing")}


def cues(text: str) -> frozenset[Cue]:
    """The cues ``text`` holds."""
    folded = fold(text)
    patterns = _patterns()
    found: set[Cue] = {cue for cue in _ALONE if patterns[cue].search(folded)}
    for cue, parts in _PARTS.items():
        if all(patterns[part].search(folded) for part in parts) and (cue != "late" or _waited(text, folded)):
            found.add(cue)
    if patterns["missing"].search(folded) and (patterns["received"].search(folded) or patterns["order"].search(folded)):
        # an item missing from the order received: a person looks it up, as for a damaged one
        found.add("damaged")
    if patterns["order"].search(folded) and patterns["overdue"].search(folded):
        found.add("late")
    if patterns["order"].search(folded) and not patterns["messages"].search(folded) and "cancellation" in topics(text):
        found.add("cancel_order")
    if asks_contact(text):
        found.add("reach_us")
    if _NAMED_PERSON.search(text):
        found.add("named_person")
    return frozenset(found)


def _waited(text: str, folded: str) -> bool:
    """Whether a text saying an order has not arrived says the customer has waited for it: a word of waiting ("still",
    "seit") or a stated period, or no question asked at all. "My order 45821 hasn't arrived yet" reports a problem, and
    got the tracking FAQ; "my order hasn't arrived yet, when will it come?" and "Dov'è il mio ordine? Non è ancora
    arrivato." ask where it is, which the tracking answer tells. A refund not yet received is not an order's."""
    if "refund" in topics(text):
        return False
    return _patterns()["waiting"].search(folded) is not None or states_duration(text) or not (
        "?" in text or asks_something(text))
