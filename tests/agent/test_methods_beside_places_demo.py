"""A payment method asked about beside a place (demo shop, real models): "Quanto costa la spedizione in Italia? E posso
pagare con PayPal?" got "PayPal: not among the payment methods we accept" in five languages, and in English the list
that followed named PayPal. Italy left no passage covering the whole question, and the list of accepted methods was
taken for one without PayPal (``agent.answerability._method_verdict``)."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("text", "language", "yes"), [
    ("Quanto costa la spedizione in Italia? E posso pagare con PayPal?", "it", "PayPal: yes"),
    ("How much is shipping to Italy? And can I pay with PayPal?", "en", "PayPal: yes"),
    ("Combien coûte la livraison en Italie ? Et je peux payer par PayPal ?", "fr", "PayPal : oui"),
    ("¿Cuánto cuesta el envío a Italia? ¿Y puedo pagar con PayPal?", "es", "PayPal: yes"),
])
def test_a_method_the_shop_takes_is_never_said_to_be_refused(pipeline: Pipeline, text: str, language: str,
                                                             yes: str) -> None:
    decision = converse(pipeline, [text], language)[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert yes in decision.reply and "12 EUR" in decision.reply, decision.reply
    assert "not among" not in decision.reply and "pas parmi" not in decision.reply


def test_a_method_the_shop_does_not_take_is_still_said_so(pipeline: Pipeline) -> None:
    decision = converse(pipeline, ["How much is shipping to Italy? And can I pay by bank transfer?"], "en")[-1]
    assert decision.reply is not None and "Bank transfer: not among" in decision.reply, decision.reply
