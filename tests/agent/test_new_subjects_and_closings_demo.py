"""Wrong or weak answers found in session 23 (session 24, H1; demo shop, real models): a follow-up naming a new subject
(the gift cards after PayPal) got the earlier answer again; a second question joined by "und"/"et"/"and" was lost ("…
und kann ich mit PayPal zahlen?") or read with the first ("Wie gebe ich etwas zurück und bis wann geht das?"); whether
the gift cards expire got their delivery date or a person; a typo hid returns; "Merci ! En fait c'est bon." was a
greeting; an Arabic question was read without its place."""

from __future__ import annotations

import pytest

from agent.accents import Accents
from agent.context import carry_places
from agent.entities import countries
from agent.pipeline import Pipeline
from knowledge.embeddings import get_embedder
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize(("texts", "language", "valid"), [
    (["Can I pay with PayPal?", "and do gift cards expire?"], "en", "valid for one year"),
    (["Je peux payer avec PayPal ?", "et les cartes cadeaux, elles expirent ?"], "fr", "valables un an"),
    (["¿Aceptáis PayPal?", "¿y las tarjetas regalo caducan?"], "es", "valid for one year"),
    (["Posso pagare con PayPal?", "e le carte regalo scadono?"], "it", "valid for one year"),
])
def test_a_follow_up_naming_a_new_subject_answers_that_subject(
        pipeline: Pipeline, texts: list[str], language: str, valid: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert (decision.action, decision.language) == ("reply", language), decision.reason_code
    assert decision.reply is not None and valid in decision.reply, decision.reply
    assert "Mastercard" not in decision.reply  # not the payment methods again


@pytest.mark.parametrize(("texts", "language"), [
    (["Vous vendez des cartes cadeaux ?", "elles expirent quand ?"], "fr"),
    (["Do you sell gift cards?", "do they expire at some point?"], "en"),
])
def test_whether_the_gift_cards_expire_gets_their_validity_alone(
        pipeline: Pipeline, texts: list[str], language: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert "un an" in decision.reply or "one year" in decision.reply, decision.reply
    assert "e-mail" not in decision.reply, decision.reply  # the delivery date answers no expiry


def test_a_payment_question_joined_to_a_shipping_one_is_answered_too(pipeline: Pipeline) -> None:
    decision = converse(pipeline, ["Was kostet der Versand nach Italien und kann ich mit PayPal zahlen?"], "de")[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert "12 EUR" in decision.reply and "PayPal" in decision.reply, decision.reply


@pytest.mark.parametrize(("text", "language", "steps", "period"), [
    ("Wie gebe ich etwas zurück und bis wann geht das?", "de", "return label", "30 days"),
    ("Comment je retourne un article et jusqu'à quand ?", "fr", "étiquette de retour", "30 jours"),
    ("¿Cómo devuelvo algo y hasta cuándo puedo hacerlo?", "es", "return label", "30 days"),
    ("Come faccio un reso e fino a quando posso farlo?", "it", "return label", "30 days"),
    ("Como devolvo um artigo e até quando posso?", "pt", "return label", "30 days"),
    ("How do I return something and until when can I do it?", "en", "return label", "30 days"),
])
def test_how_to_return_and_until_when_are_both_answered(
        pipeline: Pipeline, text: str, language: str, steps: str, period: str) -> None:
    decision = converse(pipeline, [text], language)[-1]
    assert (decision.action, decision.language) == ("reply", language), decision.reason_code
    assert decision.reply is not None and steps in decision.reply and period in decision.reply, decision.reply
    assert "semaines" not in decision.reply and "weeks" not in decision.reply  # not when an item is back in stock


@pytest.mark.parametrize("text", ["cna i retrun my order", "i want to retrun a lamp"])
def test_letters_swapped_still_find_returns(pipeline: Pipeline, text: str) -> None:
    decision = converse(pipeline, [text], "en")[-1]
    assert (decision.action, decision.language) == ("reply", "en"), decision.reason_code
    assert decision.reply is not None and "return label" in decision.reply, decision.reply


def test_a_word_the_encoder_knows_is_never_respelt_as_a_swap() -> None:
    accents = Accents({"en": ["where is my order", "can I return it", "there is a problem", "from Paris"],
                       "pt": ["boa tarde"]}, whole_word=get_embedder("use-multilingual").whole_word)
    assert accents.restore("cna i retrun my order", "en") == "can i return my order"
    assert accents.restore("three days, fill in a form", "en") == "three days, fill in a form"
    # ... nor does a swap choose the language of a text mostly another's ("tarde" is Portuguese)
    text = "I own a boutique, do you have trade prices?"
    assert Accents({"en": ["do you have prices"], "pt": ["boa tarde"]}).one_language(text) == text


@pytest.mark.parametrize(("texts", "language", "welcome"), [
    (["Je veux parler à quelqu'un", "Merci ! En fait c'est bon."], "fr", "Avec plaisir"),
    (["Combien coûte la livraison ?", "Merci ! En fait c'est bon."], "fr", "Avec plaisir"),
    (["Do you ship to Spain?", "thanks, actually never mind"], "en", "welcome"),
    (["Wie lange dauert die Lieferung?", "Danke, hat sich erledigt"], "de", "Gern geschehen"),
])
def test_a_thank_you_closing_the_request_is_no_greeting(
        pipeline: Pipeline, texts: list[str], language: str, welcome: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert (decision.action, decision.reason_code, decision.language) == ("reply", "acknowledgement", language)
    assert decision.reply is not None and welcome in decision.reply and "Maison Lumière" not in decision.reply


def test_an_arabic_question_is_read_with_its_place(pipeline: Pipeline) -> None:
    assert countries("هل تشحنون إلى إيطاليا؟") == {"IT"} and countries("هل تشحنون لإيطاليا؟") == {"IT"}
    assert countries("هل توصلون للمغرب؟") == {"MA"} and countries("هل تشحنون إلى بلجيكا؟") == {"BE"}
    japan = converse(pipeline, ["هل تشحنون إلى اليابان؟"])[-1]
    # Japan is not among the places served: no "Yes, we deliver…"
    assert japan.reply is None or not japan.reply.startswith("Yes"), japan.reply


# found texting the simulator after the fixes above


def test_a_follow_up_naming_another_place_not_served_gets_the_places_served_again(pipeline: Pipeline) -> None:
    decision = converse(pipeline, ["do u ship to canada", "ok what about japan?"], "en")[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    # it got Click & Collect, the next passage, as the places served were not to be said twice
    assert "the EU, Switzerland and the UK" in decision.reply and "Click & Collect" not in decision.reply
    assert not decision.reply.startswith("Yes"), decision.reply


def test_a_short_follow_up_naming_the_earlier_subject_by_a_pronoun_stays_on_it(pipeline: Pipeline) -> None:
    texts = ["Ciao, avete la carta regalo? quanto dura?", "ok grazie, e posso usarla in negozio?"]
    decision = converse(pipeline, texts, "it")[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert "Paris shop" in decision.reply and "Click & Collect" not in decision.reply, decision.reply


def test_a_question_about_paying_carries_no_place() -> None:
    carried = carry_places(["¿cuánto tarda el envío a Madrid?", "¿Y puedo pagar con tarjeta?"])
    assert carried[1] == "¿Y puedo pagar con tarjeta?"
    assert carry_places(["¿Enviáis a Madrid?", "¿Cuánto cuesta?"])[1] == "¿Cuánto cuesta? (madrid, shipping)"


@pytest.mark.parametrize(("texts", "language", "stated"), [
    (["kann ich mit klarna zahlen", "und gibt es gutscheine?", "verfallen die?"], "de", "valid for one year"),
    (["How much is shipping to Germany?", "and returns?", "how long do I have?"], "en", "30 days"),
])
def test_a_follow_up_after_one_that_changed_topic_is_about_the_new_topic(
        pipeline: Pipeline, texts: list[str], language: str, stated: str) -> None:
    decision = converse(pipeline, texts, language)[-1]
    assert decision.action == "reply" and decision.reply is not None, decision.reason_code
    assert stated in decision.reply, decision.reply


def test_the_german_noun_for_a_return_names_returns(pipeline: Pipeline) -> None:
    # "Rückgabe" named no topic: in two questions the first got the refund delay, the second the invoice download
    decision = converse(pipeline, ["Wie lange habe ich Zeit für eine Rückgabe und wie mache ich das?"], "de")[-1]
    assert decision.reply is not None and "30 days" in decision.reply and "return label" in decision.reply
    assert "invoice" not in decision.reply and "refund" not in decision.reply, decision.reply
