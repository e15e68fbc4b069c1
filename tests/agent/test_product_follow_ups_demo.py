"""Follow-ups about the product or the thing just talked of, texted in the simulator (demo shop, real models): how
long candles last after their materials, how long gift cards are valid, the candles' wax after "Vous faites des
bougies ?", and a shop's hours asked with its place in one text. They got the delivery times, a wrong fact, or a
person although the knowledge base states them."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("texts", "language", "stated"), [
    # read alone, "durano" a word of its own: the delivery times
    (["Di cosa sono fatte le vostre candele?", "quanto tempo durano?"], "it", "40 hours"),
    # "quanto durano" asked no duration: the materials section was kept, too far from the wording (a person)
    (["Di cosa sono fatte le vostre candele?", "e quanto durano?"], "it", "40 hours"),
    (["De quoi sont faites vos bougies ?", "et elles durent combien de temps ?"], "fr", "40 heures"),
    (["¿De qué están hechas las velas?", "¿y cuánto duran?"], "es", "40 hours"),  # out of scope: a person
    (["Woraus sind eure Kerzen?", "Wie lange halten sie?"], "de", "40 hours"),  # the delivery times
])
def test_how_long_after_a_materials_question_is_the_products_burn_time(
        pipeline: Pipeline, texts: list[str], language: str, stated: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert stated in decision.reply and "Colissimo" not in decision.reply, decision.reply


def test_how_long_of_a_product_no_passage_states_it_of_goes_to_a_person(pipeline: Pipeline) -> None:
    """The knowledge base says what lampshades are made of, not how long they last: no delivery time answers it."""
    decision = converse(pipeline, ["What are your lampshades made of?", "and how long do they last?"], "en")[-1]
    assert decision.action == "escalate", decision.reply


@pytest.mark.parametrize(("texts", "language", "stated"), [
    (["Vendez-vous des cartes cadeaux ?", "elles sont valables combien de temps ?"], "fr", "valables un an"),
    (["Vendem cartões de presente?", "elas são válidas por quanto tempo?"], "pt", "valid for one year"),
    (["Vous faites des bougies ?", "elles sont en quelle cire ?"], "fr", "cire de colza"),
])
def test_a_question_by_a_subject_pronoun_is_about_what_was_just_talked_of(
        pipeline: Pipeline, texts: list[str], language: str, stated: str) -> None:
    """Read alone, each went to a person: "elles" and "valables" were words of their own, and "cire" a new topic
    with no candles."""
    decision = converse(pipeline, texts, language)[-1]
    assert decision.action == "reply" and decision.reply is not None and stated in decision.reply, decision.reason_code


@pytest.mark.parametrize(("text", "language"), [
    ("¿Tenéis tienda en París? ¿A qué hora abrís?", "es"),
    ("Avete un negozio a Parigi? A che ora aprite?", "it"),
    ("Do you have a shop in Paris? What time do you open?", "en"),
])
def test_when_the_shop_opens_asked_after_where_it_is_gets_its_hours(
        pipeline: Pipeline, text: str, language: str) -> None:
    """"abrís" named no topic, and "mainland France", covering Paris carried to the second question, lifted the
    delivery times over the opening hours; "24 hours" made the delivery times a passage about opening hours. Where the
    shop is, the passage naming Paris says: the about page ("made in Europe" covers France) came first."""
    decision = pipeline.analyze(text, contact_language=language, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None
    assert "10 am" in decision.reply and "Colissimo" not in decision.reply, decision.reply
    assert "12 rue des Archives" in decision.reply and "founded" not in decision.reply, decision.reply


@pytest.mark.parametrize(("text", "language"), [
    ("Têm uma loja em Paris?", "pt"),  # click_collect: "Click & Collect is free…"
    ("Do you have a physical store in Paris?", "en"),  # the same
])
def test_whether_there_is_a_shop_in_a_city_is_answered_by_the_passage_naming_it(
        pipeline: Pipeline, text: str, language: str) -> None:
    decision = pipeline.analyze(text, contact_language=language, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None
    assert "12 rue des Archives" in decision.reply and "Click" not in decision.reply, decision.reply


def test_what_to_do_at_a_shop_in_a_city_is_still_its_own_answer(pipeline: Pipeline) -> None:
    """Only whether there is one: collecting an order there is Click & Collect, its size is nobody's passage."""
    pickup = pipeline.analyze("Can I pick up my order at the Paris shop?", contact_language="en", use_llm=False)
    assert pickup.decision.reply is not None and "Click & Collect" in pickup.decision.reply
    size = pipeline.analyze("How big is the shop in Paris?", contact_language="en", use_llm=False)
    assert size.decision.action == "escalate", size.decision.reply
