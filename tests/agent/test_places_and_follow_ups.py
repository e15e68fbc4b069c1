"""Conversations through the inbound job on the demo FAQ's shipping and returns entries (real
database, Redis and pipeline, no intent model): a question naming a place is answered with that
place's terms, never the home country's; a follow-up carrying on with the earlier question's words
is answered in its context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime import reset_runtime
from core.settings import Settings
from tests.agent.conftest import load_faq_subset
from tests.agent.inbound_helpers import outbound, receive
from tests.agent.test_inbound import handle


@pytest.fixture
def shop(runtime: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The runtime's knowledge base holds the demo FAQ's shipping and returns entries; the business
    is based in France (``default_region``)."""
    assert runtime.default_region == "FR"
    load_faq_subset(runtime, tmp_path, ("shipping", "returns"))
    yield runtime
    reset_runtime()


def reply_to(text: str, phone: str) -> str:
    assert handle(receive(text, phone=phone)) == "replied (offline)", text
    return outbound()[-1].body


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Bonjour, combien coûte la livraison en Belgique ?", "+33612345678"),
        ("How much is shipping to Germany?", "+447911123456"),
        ("Combien coûte la livraison à Bruxelles ?", "+33612345679"),
        ("Quanto costa la spedizione in Germania?", "+393331234567"),
    ],
)
def test_shipping_to_another_eu_country_is_answered_with_the_international_terms(
        shop: Settings, text: str, phone: str) -> None:
    reply = reply_to(text, phone)
    assert "12 EUR" in reply and "4,90" not in reply and "4.90" not in reply
    assert not reply.lower().startswith(("oui", "yes"))


def test_a_price_asked_after_naming_a_place_is_that_places_price(shop: Settings) -> None:
    # two questions: the second names no place, and alone it got the home country's 4.90 EUR
    reply = reply_to("¿Hacen envíos a Bruselas? ¿Cuánto cuesta?", "+34612345678")
    assert "12 EUR" in reply and "4,90" not in reply and "4.90" not in reply


def test_shipping_within_the_home_country_keeps_the_home_price(shop: Settings) -> None:
    assert "4,90 EUR" in reply_to("Combien coûte la livraison à Lyon ?", "+33612345678")


def test_a_returns_follow_up_is_answered_from_the_return_policy(shop: Settings) -> None:
    phone = "+447911123456"
    assert "return label" in reply_to("How do I return an item?", phone)
    reply = reply_to("and who pays the return shipping?", phone)
    # the return policy, not the return label again, and never the shipping prices
    assert "Returns are free in France" in reply and "4.90" not in reply


def test_two_questions_answered_by_one_passage_state_it_once(shop: Settings) -> None:
    # both questions land on "We deliver to the EU...": the second copy (without its "Yes") is dropped
    reply = reply_to("¿Hacen envíos a Bruselas? ¿Cuánto cuesta?", "+34612345670")
    assert reply.count("12 EUR") == 1 and reply.count("deliver to the EU") == 1


@pytest.mark.parametrize(
    ("first", "follow_up", "phone", "expected"),
    [
        ("¿Cuánto cuesta el envío?", "¿y las devoluciones?", "+34612345671", "Returns are free in France"),
        ("Quanto costa la spedizione?", "e i resi?", "+393331234571", "Returns are free in France"),
        ("Combien coûte la livraison ?", "et les retours ?", "+33612345671", "Le retour est gratuit en France"),
        ("How much is shipping?", "and returns?", "+447911123457", "return"),
    ],
)
def test_a_follow_up_naming_another_topic_is_answered_on_that_topic(
        shop: Settings, first: str, follow_up: str, phone: str, expected: str) -> None:
    # "and returns?" after a shipping question asks about returns: it got the delivery times
    reply_to(first, phone)
    reply = reply_to(follow_up, phone)
    assert expected in reply
    assert not any(word in reply for word in ("Colissimo", "4.90", "4,90", "2-4", "2 à 4"))


@pytest.mark.parametrize(
    ("first", "follow_up", "phone"),
    [
        ("Do you ship to Germany?", "and how long does it take?", "+447911123460"),
        ("Do you deliver to Spain?", "and how much would that cost me?", "+447911123461"),
        ("Liefert ihr nach Belgien?", "und wie lange dauert die Lieferung?", "+491701234560"),
    ],
)
def test_a_longer_follow_up_asking_how_long_or_how_much_keeps_the_earlier_country(
        shop: Settings, first: str, follow_up: str, phone: str) -> None:
    # six words and more, none of them the question's: read alone, it got mainland France's terms
    reply_to(first, phone)
    reply = reply_to(follow_up, phone)
    assert "4-8 working days" in reply and "mainland France" not in reply


def test_a_follow_up_asking_how_long_after_a_price_gets_the_delivery_time(shop: Settings) -> None:
    # "and how long?" asks a duration, not the earlier price too: the terms for abroad state both
    phone = "+447911123462"
    reply_to("How much is shipping?", phone)
    reply = reply_to("and how long?", phone)
    assert "2-4 working days" in reply and "12 EUR" not in reply
