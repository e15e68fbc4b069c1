"""Texts the lead sent as customers would (session 20, batch 2) on the demo shop, with real models: an order
cancellation is not an opt-out, a yes/no question naming what the passage does not state gets no "Yes", a question
naming a payment method gets the methods, opening on a day gets the shop's hours, a phone number nobody states goes
to a person."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize("text", ["¿Abrís los domingos?", "Aprite la domenica?", "Öffnet ihr am Montag?",
                                  "Abrem ao domingo?", "Vous êtes ouverts le lundi ?", "¿Abren el lunes?",
                                  "Siete aperti il sabato?", "Habt ihr sonntags offen?"])
def test_opening_on_a_day_gets_the_shops_hours_in_every_language(pipeline: Pipeline, text: str) -> None:
    """The opening verb names the hours topic (``topics.yaml``), which a question asks about (``asked``): the passage
    titled with it answers, whatever the intent model read (a greeting, out of scope: a person before)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None and ("10 am-7 pm" in decision.reply or "10 h à 19 h" in decision.reply)


@pytest.mark.parametrize(("text", "method"), [("Akzeptiert ihr Klarna?", "Klarna"), ("Nehmt ihr Bitcoin?", "Bitcoin"),
                                              ("¿Aceptáis Bizum?", "Bizum"), ("Accettate Satispay?", "Satispay"),
                                              ("Vocês aceitam MB Way?", "MB Way")])
def test_a_question_naming_a_payment_method_gets_the_accepted_methods(pipeline: Pipeline, text: str,
                                                                      method: str) -> None:
    """The list of accepted methods states whether the one named is among them, whatever the intent model read
    (a complaint, a greeting, urgent, out of scope: a person before)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None and f"{method}: not among the payment methods" in decision.reply


def test_a_payment_complaint_naming_a_method_still_goes_to_a_person(pipeline: Pipeline) -> None:
    """A statement asks nothing: the list of methods is no answer to "PayPal charged me twice"."""
    assert pipeline.analyze("PayPal charged me twice", use_llm=False).decision.action == "escalate"
