"""A question naming a payment method the shop does not take, written without a question mark (H9, session 24; demo
shop, real models): "kann ich mit klarna zahlen" got the Alma instalments and no word of Klarna, where "kann ich mit
klarna zahlen?" was told Klarna is not accepted. A German question opens with its verb, a Spanish, Italian or
Portuguese one often with "puedo"/"posso": it asks, and the list of accepted methods answers it."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from agent.smalltalk import asks_something
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("text", "language", "method"), [
    ("kann ich mit klarna zahlen", "de", "Klarna"),
    ("darf ich per klarna bezahlen", "de", "Klarna"),
    ("puedo pagar con klarna", "es", "Klarna"),
    ("posso pagare con klarna", "it", "Klarna"),
    ("posso pagar com klarna", "pt", "Klarna"),
])
def test_a_method_not_taken_is_said_not_taken_without_a_question_mark(
        pipeline: Pipeline, text: str, language: str, method: str) -> None:
    decision = converse(pipeline, [text], language)[-1]
    assert (decision.action, decision.language) == ("reply", language), decision.reason_code
    assert decision.reply is not None and f"{method}: not among" in decision.reply, decision.reply
    assert "PayPal" in decision.reply and "instalments" not in decision.reply, decision.reply


@pytest.mark.parametrize(("text", "asks"), [
    ("kann ich mit klarna zahlen", True),
    ("Können wir das morgen machen", True),
    ("puedo pagar con klarna", True),
    ("Ich kann morgen nicht", False),
    ("kannst du", False),
])
def test_a_verb_first_question_asks_without_its_mark(text: str, asks: bool) -> None:
    assert asks_something(text) is asks
