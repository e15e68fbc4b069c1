"""Places inside a country that a knowledge base states apart, or not at all (session 20, H9; demo shop, real
models): "vous livrez en Corse ?" got mainland France's price, where the English passage ("mainland France") leaves
Corsica out and the French one ("France métropolitaine") takes it in; "¿Cuánto cuesta enviar a Mallorca?" got it
too, Mallorca being read as no place at all. A region (``regions`` in ``agent/resources/places.yaml``) is covered
by a passage naming it only: no passage of the demo does, so a person answers."""

from __future__ import annotations

import pytest

from agent.entities import countries, covers_country, place_terms
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize("text", [
    "Bonjour, vous livrez en Corse ?", "Do you ship to Corsica?", "Vous expédiez à Bastia ?",
    "Is delivery to Corsica free over 60 EUR?", "Versendet ihr auch nach Korsika?", "¿Cuánto cuesta enviar a Mallorca?",
    "Enviam para os Açores?"])
def test_a_region_no_passage_names_goes_to_a_person(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate", (text, decision.reply)


@pytest.mark.parametrize(("text", "fact"), [
    ("C'est combien la livraison pour Marseille ?", "4,90"), ("How long does delivery take to Paris?", "2-4"),
    ("Do you ship to Portugal?", "4-8 working days")])
def test_the_countrys_own_places_keep_its_terms(pipeline: Pipeline, text: str, fact: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None and fact in decision.reply, decision.reply


def test_a_region_is_covered_by_its_own_name_only() -> None:
    """Neither its country ("France métropolitaine"), nor the EU, nor "abroad" states what holds in Corsica; a passage
    naming Corsica does."""
    assert countries("Livrez-vous en Corse ?") == {"FR-20R"}
    assert countries("Livrez-vous à Ajaccio ?", cities=True) == {"FR-20R"}
    assert countries("En France métropolitaine, la livraison coûte 4,90 EUR.") == {"FR"}
    assert not covers_country({"FR"}, "FR-20R", "FR")
    assert not covers_country({"EU", "ABROAD"}, "FR-20R", "FR")
    assert not covers_country({"ABROAD"}, "PT-20", "FR")
    assert covers_country({"FR", "FR-20R"}, "FR-20R", "FR")
    assert "corse" in place_terms("FR-20R", "FR") and "etranger" not in place_terms("FR-20R", "FR")


@pytest.mark.parametrize("text", [
    "How do I return an item and how long do I have?", "¿Cómo devuelvo un artículo y cuánto tiempo tengo?",
    "Come faccio un reso e quanto tempo ho?"])
def test_how_to_return_and_how_long_get_the_steps_and_the_30_days(pipeline: Pipeline, text: str) -> None:
    """The second question ("and how long do I have? (returns)") has no intent of its own and scores 0.30 with the
    return policy, titled with its topic and stating the period asked: it answers, as a topic's passage found by
    keyword does, where the return steps (silent on any period) were sent alone."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "return label" in decision.reply and "30 days" in decision.reply
