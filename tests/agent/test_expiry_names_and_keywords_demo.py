"""Answers still wrong after session 22 (session 23, H1; demo shop, real models): whether the gift cards expire, asked
right after them, went to a person in the six languages; "Ciao, posso ritirare in negozio a Lione?" went to a person
and Click & Collect never said where the shop is; asking for someone by name was out of scope; STOP, START and HELP
from a Spanish or Portuguese contact were answered in English."""

from __future__ import annotations

import pytest

from agent.context import is_follow_up
from agent.cues import cues
from agent.entities import asks_duration, city_names
from agent.keywords import match_keyword
from agent.language import SUPPORTED_LANGUAGES
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline

EXPIRY = [
    (["do you sell gift cards?", "do they expire?"], "en", "valid for one year"),
    (["Vous vendez des cartes cadeaux ?", "elles expirent ?"], "fr", "valables un an"),
    (["¿Vendéis tarjetas regalo?", "¿caducan?"], "es", "valid for one year"),
    (["Vendete carte regalo?", "scadono?"], "it", "valid for one year"),
    (["Verkauft ihr Geschenkkarten?", "verfallen sie?"], "de", "valid for one year"),
    (["Vendem cartões presente?", "eles expiram?"], "pt", "valid for one year"),
]


@pytest.mark.parametrize(("texts", "language", "stated"), EXPIRY)
def test_whether_something_expires_asks_how_long_it_stays_valid(
        texts: list[str], language: str, stated: str) -> None:
    assert asks_duration(texts[1]) and is_follow_up(texts[1]), language


@pytest.mark.parametrize(("texts", "language", "stated"), EXPIRY)
def test_whether_the_gift_cards_expire_is_answered_by_their_validity(
        pipeline: Pipeline, texts: list[str], language: str, stated: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert (decision.action, decision.language) == ("reply", language), decision.reason_code
    assert decision.reply is not None and stated in decision.reply, decision.reply


def test_a_pronoun_question_asking_something_else_stays_its_own(pipeline: Pipeline) -> None:
    # the case that made a781ee5 reverted: when it arrives is not how long the express price holds
    decision = converse(pipeline, ["Quel est le prix de la livraison express ?", "elle arrive quand ?"], "fr")[-1]
    assert decision.reply is not None and "9,90" not in decision.reply and "2 à 4 jours" in decision.reply


@pytest.mark.parametrize(("text", "language"), [
    ("Ciao, posso ritirare in negozio a Lione?", "it"),
    ("¿Puedo recoger mi pedido en una tienda de Lyon?", "es"),
    ("Can I pick up my order in a shop in Lyon?", "en"),
    ("Je peux retirer ma commande en boutique à Lyon ?", "fr"),
])
def test_click_and_collect_in_another_city_says_where_the_shop_is(
        pipeline: Pipeline, text: str, language: str) -> None:
    decision = converse(pipeline, [text], language)[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert "12 rue des Archives" in decision.reply, decision.reply
    assert not decision.reply.split(": ", 1)[-1].startswith(("Yes", "Oui")), decision.reply


def test_the_italian_name_of_lyon_is_a_city() -> None:
    assert city_names("posso ritirare in negozio a Lione?") == ["lione"]


NAMED = [
    ("ich will mit Jonas sprechen", "de"),
    ("Kann ich bitte mit Frau Keller sprechen?", "de"),
    ("I want to speak to Jonas", "en"),
    ("je voudrais parler à Sophie", "fr"),
    ("quiero hablar con Marta", "es"),
    ("posso parlare con Giulia?", "it"),
    ("quero falar com o Pedro", "pt"),
]


@pytest.mark.parametrize(("text", "language"), NAMED)
def test_asking_for_someone_by_name_is_asking_for_a_person(pipeline: Pipeline, text: str, language: str) -> None:
    assert "named_person" in cues(text)
    decision = converse(pipeline, [text], language)[-1]
    assert (decision.action, decision.reason_code) == ("escalate", "human_requested")


@pytest.mark.parametrize("text", [
    "I spoke to Jonas yesterday", "Ich habe mit Jonas gesprochen", "Können wir Deutsch sprechen?",
    "Speak to you soon, thanks", "Kann ich mit PayPal zahlen?", "talk to me in French please",
])
def test_a_name_said_otherwise_is_no_request_for_a_person(text: str) -> None:
    assert "named_person" not in cues(text)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize(("word", "kind"), [("STOP", "opt_out"), ("START", "opt_in"), ("HELP", "help")])
def test_stop_start_and_help_are_answered_in_the_contacts_language(word: str, kind: str, language: str) -> None:
    match = match_keyword(word, prior=language)
    assert match is not None and (match.kind, match.language) == (kind, language)


@pytest.mark.parametrize(("language", "word", "again"), [("es", "ALTA", "Alta confirmada"),
                                                         ("es", "START", "Alta confirmada"),
                                                         ("pt", "START", "Inscrição reativada")])
def test_the_word_to_come_back_resubscribes_in_the_contacts_language(
        pipeline: Pipeline, language: str, word: str, again: str) -> None:
    stop = pipeline.analyze("STOP", contact_language=language, use_llm=False).decision
    assert (stop.action, stop.language) == ("opt_out", language), stop.reply
    back = pipeline.analyze(word, contact_language=language, opted_out=True, use_llm=False).decision
    assert (back.action, back.language) == ("opt_in", language) and back.reply is not None and again in back.reply


@pytest.mark.parametrize(("contact_language", "language"), [("fr", "fr"), (None, "en")])
def test_an_upset_customer_asking_for_a_person_in_arabic_reaches_one(
        pipeline: Pipeline, contact_language: str | None, language: str) -> None:
    # no supported language writes Arabic script: the prior's language, else English (docs/models.md); the encoder
    # reads the words, so the request for a person is one
    decision = converse(pipeline, ["أريد التحدث مع شخص 😡"], contact_language)[-1]
    assert (decision.action, decision.reason_code, decision.language) == ("escalate", "human_requested", language)
