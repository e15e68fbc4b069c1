"""A bare "how much" right after a shipping answer (H9, session 24; demo shop, real models): "how much" after "hi do
you ship to ireland" went to a person, and so did "combien ?", "¿cuánto?", "wie viel?", "quanto?": the bare word asked
no price ("combien coûte…" did), and without its mark "how much" was no follow-up. They ask the price there, which the
shipping answer states ("from 12 EUR")."""

from __future__ import annotations

import pytest

from agent.context import is_follow_up
from agent.entities import asks_price
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("texts", "language"), [
    (["hi do you ship to ireland", "how much"], "en"),
    (["Livrez-vous en Irlande ?", "combien ?"], "fr"),
    (["¿Enviáis a Irlanda?", "¿cuánto?"], "es"),
    (["Liefert ihr nach Irland?", "wie viel?"], "de"),
    (["Versendet ihr auch nach Irland?", "wieviel"], "de"),  # one word, no mark: it asked nothing (H9 left it)
    (["Enviam para a Irlanda?", "quanto?"], "pt"),
])
def test_a_bare_how_much_after_a_shipping_answer_gets_the_price(
        pipeline: Pipeline, texts: list[str], language: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert (decision.action, decision.language) == ("reply", language), decision.reason_code
    assert decision.reply is not None and "12 EUR" in decision.reply, decision.reply


@pytest.mark.parametrize(("text", "price", "follow_up"), [
    ("combien ?", True, True), ("quanto?", True, True), ("how much", True, True), ("wieviel", True, True),
    ("it costs too much", True, False),  # a statement, no follow-up
    ("pendant combien ?", False, False), ("¿cuánto tiempo?", False, True),  # how long, not how much
])
def test_the_bare_word_asks_how_much(text: str, price: bool, follow_up: bool) -> None:
    assert (asks_price(text), is_follow_up(text)) == (price, follow_up)
