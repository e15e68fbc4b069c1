"""What something is made of, asked in the six languages, on the demo shop (real models): the materials section
answers, with the sentence about the product asked of, whatever the intent model reads (out of scope, or
product_care, whose agreement lifted the candles' burn time); "paraffin free" asks no price; a product the
section says nothing of goes to a person."""

from __future__ import annotations

import pytest

from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("text", "language", "stated", "not_stated"), [
    ("What are your candles made of?", "en", "rapeseed wax", "hours"),  # out of scope 0.64: a person
    ("De quoi sont faites vos bougies ?", "fr", "cire de colza", "heures"),  # product_care: the burn time
    ("¿De qué están hechas las velas?", "es", "rapeseed wax", "Lampshades"),  # "velas" ~ lampshades for the encoder
    ("Di che cosa sono fatte le candele?", "it", "rapeseed wax", "hours"),
    ("Woraus bestehen eure Kerzen?", "de", "rapeseed wax", "hours"),  # the section was not retrieved
    ("Os lençóis são de que material?", "pt", "bed linen", "Lampshades"),  # the burn time
    ("What material are the lampshades?", "en", "linen or rattan", "bulbs"),  # the bulbs
    ("En quelle matière sont les abat-jour ?", "fr", "lin ou en rotin", "ampoules"),
    ("What fabric is your bedding?", "en", "100% French washed linen", "Wash"),  # the care of linen
    ("Bonjour, les housses de couette sont en quoi ?", "fr", "lin lavé", "40 degrés"),  # texted: a person
])
def test_what_something_is_made_of_is_answered_from_the_materials_section(
        pipeline: Pipeline, text: str, language: str, stated: str, not_stated: str) -> None:
    decision = pipeline.analyze(text, contact_language=language, use_llm=False).decision
    assert (decision.action, decision.language) == ("reply", language), (decision.reason_code, decision.reply)
    assert decision.reply is not None and stated in decision.reply and not_stated not in decision.reply
    assert any("Materials" in s.title or "Matières" in s.title for s in decision.sources)


def test_paraffin_free_asks_no_price(pipeline: Pipeline) -> None:
    """"free" was read as a price: the gift cards ("free") came first, then a person (out of scope)."""
    decision = pipeline.analyze("Are the candles paraffin free?", contact_language="en", use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None
    assert "without paraffin" in decision.reply and "gift" not in decision.reply.lower()


@pytest.mark.parametrize("text", ["What is the material of the sofa?", "De quoi est fait votre canapé ?"])
def test_the_material_of_a_product_the_section_does_not_state_goes_to_a_person(pipeline: Pipeline, text: str) -> None:
    """The materials section says nothing of sofas: "Lampshades are made of linen or rattan." was the answer."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate", decision.reply


@pytest.mark.parametrize(("text", "language"), [("Vos bougies sont fabriquées où ?", "fr"),
                                                 ("¿Dónde fabricáis las velas?", "es")])
def test_where_the_candles_are_made_is_the_materials_sections(pipeline: Pipeline, text: str, language: str) -> None:
    """"fabriquées", "fabricáis" were each one passage's word ("défauts de fabrication", "fabric softener"): the
    warranty or the washing of linen answered."""
    decision = pipeline.analyze(text, contact_language=language, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None and "Grasse" in decision.reply, decision.reply
