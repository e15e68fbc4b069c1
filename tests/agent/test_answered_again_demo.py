"""Follow-ups texted in the simulator that went to a person although the knowledge base answers them (demo shop,
real models): a plural pronoun question about what was just answered, and a question the last reply answered."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize("follow_up", ["how long are they valid?", "how long do they last?"])
def test_a_plural_pronoun_question_is_about_what_was_just_answered(pipeline: Pipeline, follow_up: str) -> None:
    """Read alone, "how long are they valid?" was delivery_time 0.33 / warranty 0.31: a person."""
    _, again = converse(pipeline, ["Do you sell gift cards?", follow_up], "en")
    assert again.action == "reply" and again.reply is not None and "one year" in again.reply, again.reason_code


@pytest.mark.parametrize(("texts", "language"), [
    (["Vocês têm loja física?", "qual é o horário?"], "pt"),
    (["Habt ihr ein Geschäft in Paris?", "Wann habt ihr geöffnet?"], "de"),
])
def test_a_question_the_last_reply_answered_is_answered_again(
        pipeline: Pipeline, texts: list[str], language: str) -> None:
    """The shop's answer states its hours: asked for them next, the same answer would "repeat the bot's last reply",
    which sent the customer to a person (a statement adding an order number still does)."""
    first, hours = converse(pipeline, texts, language)
    assert first.reply is not None and "10 am" in first.reply
    assert hours.action == "reply" and hours.reply is not None and "10 am" in hours.reply, hours.reason_code


@pytest.mark.parametrize(("texts", "language"), [
    (["How much are your candles?"], "en"),  # product_care: the burn time
    (["¿Cuánto cuestan las velas?"], "es"),  # shipping_cost 0.94: the shipping prices
    (["What are your candles made of?", "and how much are they?"], "en"),
])
def test_the_price_of_a_product_the_knowledge_base_does_not_state_goes_to_a_person(
        pipeline: Pipeline, texts: list[str], language: str) -> None:
    """No passage states what a candle costs: a passage stating no amount, or another thing's, is no answer."""
    decision = converse(pipeline, texts, language)[-1]
    assert decision.action == "escalate", decision.reply


def test_a_follow_up_asking_how_long_after_a_materials_question_asks_it_of_the_product(pipeline: Pipeline) -> None:
    """"e quanto tempo duram?" after "As vossas velas são de cera de soja?" was read as a materials question: the
    materials section, which states no duration, or none (a person)."""
    _, burn = converse(pipeline, ["As vossas velas são de cera de soja?", "e quanto tempo duram?"], "pt")
    assert burn.action == "reply" and burn.reply is not None and "40 hours" in burn.reply, burn.reason_code


def test_shipping_for_a_product_is_still_the_shipping_price(pipeline: Pipeline) -> None:
    decision = converse(pipeline, ["How much is shipping for a candle?"], "en")[-1]
    assert decision.action == "reply" and decision.reply is not None and "4.90 EUR" in decision.reply
