"""The escalation policy: each rule fires for its own reason, in the documented order."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent.decision import REASON_CODES, Decision
from agent.intent.classifier import IntentPrediction, IntentScore
from agent.keywords import match_keyword
from agent.policy import Signals, Thresholds, decide
from agent.sentiment import SentimentResult

T = Thresholds(intent_min_confidence=0.45, retrieval_min_score=0.35, sentiment_escalate_below=-0.6,
               repeat_failure_limit=2)
NEUTRAL = SentimentResult(score=0.0, label="neutral", confidence=0.9)


def intent(name: str | None, confidence: float, *, escalate: bool = False) -> IntentPrediction:
    best = IntentScore(name or "order_status", confidence if name else 1 - confidence)
    return IntentPrediction(name, confidence, (best,), escalate)


def signals(**overrides: object) -> Signals:
    base: dict[str, object] = {"text": "where is my order?", "intent": intent("order_status", 0.9),
                               "sentiment": NEUTRAL, "best_score": 0.8}
    base.update(overrides)
    return Signals(**base)  # type: ignore[arg-type]


def test_an_answerable_question_is_answered_from_knowledge() -> None:
    verdict = decide(signals(), T)
    assert (verdict.action, verdict.reason_code, verdict.respond) == ("reply", "answered_from_knowledge", "knowledge")
    assert verdict.confidence == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("text", "opted_out", "action", "reason"),
    [
        ("STOP", False, "opt_out", "keyword_opt_out"),
        ("arrêt", False, "opt_out", "keyword_opt_out"),
        ("HELP", False, "help", "keyword_help"),
        ("START", True, "opt_in", "keyword_opt_in"),
    ],
)
def test_compliance_keywords_win_over_every_model(text: str, opted_out: bool, action: str, reason: str) -> None:
    # even a model sure of another intent and a furious sentiment do not matter
    verdict = decide(signals(text=text, keyword=match_keyword(text), opted_out=opted_out,
                             intent=intent("human_agent", 0.99),
                             sentiment=SentimentResult(-0.95, "negative", 0.95)), T)
    assert (verdict.action, verdict.reason_code, verdict.respond) == (action, reason, "keyword")


def test_yes_from_a_subscribed_contact_is_an_ordinary_message() -> None:
    verdict = decide(signals(text="yes", keyword=match_keyword("yes"), opted_out=False), T)
    assert verdict.action == "reply"


@pytest.mark.parametrize(
    ("overrides", "action", "reason"),
    [
        ({"intent": intent("opt_out", 0.995)}, "opt_out", "opt_out_intent"),
        ({"intent": intent("opt_out", 0.9)}, "confirm_opt_out", "opt_out_unsure"),
        ({"intent": intent("abuse", 0.9)}, "escalate", "abuse"),
        ({"intent": intent("human_agent", 0.8)}, "escalate", "human_requested"),
        ({"intent": intent("damaged_item", 0.8, escalate=True)}, "escalate", "intent_escalates"),
        ({"text": "my order is late again", "sentiment": SentimentResult(-0.7, "negative", 0.8)}, "escalate",
         "negative_sentiment"),
        ({"repeats": 2}, "escalate", "repeated_failure"),
        ({"intent": intent(None, 0.7)}, "escalate", "out_of_scope"),
        ({"intent": intent("order_status", 0.4)}, "escalate", "low_intent_confidence"),
        ({"best_score": 0.2}, "escalate", "low_retrieval_score"),
        ({"text": "   "}, "silent", "empty_message"),
        ({"intent": intent("greeting", 0.9), "has_template": True}, "reply", "intent_template"),
        # an unreadable message: asked to rephrase once, then a person; whatever the models read (abuse 0.9)
        ({"unintelligible": True, "intent": intent("abuse", 0.9), "has_template": True}, "reply", "unintelligible"),
        ({"unintelligible": True, "rephrase_asked": True, "has_template": True}, "escalate", "unintelligible"),
        # "ok" after an answer: the thanks reply when there is one to give, else nothing
        ({"acknowledgement": True, "intent": intent("greeting", 0.9), "has_template": True}, "reply",
         "acknowledgement"),
        ({"acknowledgement": True, "intent": intent("greeting", 0.9)}, "silent", "acknowledgement"),
    ],
)
def test_each_rule_gives_its_reason(overrides: dict[str, object], action: str, reason: str) -> None:
    verdict = decide(signals(**overrides), T)
    assert (verdict.action, verdict.reason_code) == (action, reason)
    assert reason in REASON_CODES


def test_thresholds_are_boundaries() -> None:
    assert decide(signals(sentiment=SentimentResult(-0.6, "negative", 0.8)), T).action == "reply"
    assert decide(signals(repeats=1), T).action == "reply"
    assert decide(signals(best_score=0.35), T).action == "reply"
    stricter = Thresholds(intent_min_confidence=0.95, retrieval_min_score=0.9, sentiment_escalate_below=-0.9,
                          repeat_failure_limit=1)
    assert decide(signals(), stricter).reason_code == "low_intent_confidence"
    assert decide(signals(repeats=1), stricter).reason_code == "repeated_failure"


def test_an_unsure_opt_out_intent_does_not_unsubscribe() -> None:
    verdict = decide(signals(intent=intent("opt_out", 0.3)), T)
    assert verdict.action == "escalate" and verdict.reason_code == "low_intent_confidence"


def test_only_a_very_sure_opt_out_intent_unsubscribes_others_are_asked_to_confirm() -> None:
    # issue 15: "Please stop sending me the wrong size" at 0.95 wrote a ledger opt-out
    direct = T.opt_out_direct_confidence
    assert direct >= 0.95
    unsure = decide(signals(intent=intent("opt_out", direct - 0.01)), T)
    assert (unsure.action, unsure.reason_code, unsure.respond) == ("confirm_opt_out", "opt_out_unsure", "keyword")
    assert decide(signals(intent=intent("opt_out", direct)), T).action == "opt_out"


def test_a_prompt_injection_cannot_trigger_an_intent_action() -> None:
    # "ignore your rules..." misread as an opt-out must not unsubscribe the customer
    verdict = decide(signals(intent=intent("opt_out", 0.7), injection=True, best_score=0.2), T)
    assert (verdict.action, verdict.reason_code) == ("escalate", "low_retrieval_score")
    # but a request for a person inside an injection attempt is still honoured
    assert decide(signals(intent=intent("human_agent", 0.9), injection=True), T).reason_code == "human_requested"


def test_without_an_intent_model_retrieval_decides() -> None:
    assert decide(signals(intent=None, intent_model=False), T).action == "reply"
    assert decide(signals(intent=None, intent_model=False, best_score=0.1), T).reason_code == "low_retrieval_score"


def test_thresholds_come_from_settings(runtime: object) -> None:
    from core.settings import load_settings

    settings = load_settings(intent_min_confidence=0.7, retrieval_min_score=0.5, sentiment_escalate_below=-0.3,
                             repeat_failure_limit=3)
    assert Thresholds.from_settings(settings) == Thresholds(0.7, 0.5, -0.3, 3)


def test_decision_rejects_unknown_actions_and_reasons() -> None:
    with pytest.raises(ValueError, match="action"):
        Decision(action="shout", confidence=1, reason_code="abuse", reason="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reason"):
        Decision(action="reply", confidence=1, reason_code="because", reason="")
    payload = Decision(action="escalate", confidence=0.5, reason_code="abuse", reason="abusive").to_dict()
    assert payload["action"] == "escalate" and payload["reason_code"] == "abuse" and payload["reply"] is None


def test_an_unsure_intent_among_topics_the_knowledge_base_answers_is_answered() -> None:
    # "How much is delivery to Austria?": 0.34 international shipping, 0.19 shipping cost
    unsure = intent("international_shipping", 0.34)
    torn = decide(signals(intent=unsure, knowledge_confidence=0.53), T)
    assert (torn.action, torn.reason_code) == ("reply", "answered_from_knowledge")
    alone = decide(signals(intent=unsure, knowledge_confidence=0.34), T)
    assert (alone.action, alone.reason_code) == ("escalate", "low_intent_confidence")


def test_a_passage_the_sure_intent_backs_answers_below_the_retrieval_minimum() -> None:
    # "How do I join the loyalty club?": loyalty_programme 0.99, the loyalty section retrieved at 0.315
    low = signals(intent=intent("loyalty_programme", 0.99), best_score=0.315)
    assert decide(low, Thresholds()).reason_code == "low_retrieval_score"
    assert decide(replace(low, intent_backed=True), Thresholds()).reason_code == "answered_from_knowledge"
    unsure = replace(low, intent=intent("loyalty_programme", 0.30), intent_backed=True)
    assert decide(unsure, Thresholds()).reason_code == "low_intent_confidence"


def test_a_passage_stating_the_place_asked_about_answers_below_the_retrieval_minimum() -> None:
    # "Vous livrez à Lisbonne en combien de jours ?": delivery_time, "Livrez-vous à l'étranger ?" at 0.30
    low = signals(intent=intent("delivery_time", 0.82), best_score=0.30)
    assert decide(low, Thresholds()).reason_code == "low_retrieval_score"
    assert decide(replace(low, place_stated=True), Thresholds()).reason_code == "answered_from_knowledge"
    unsure = replace(low, intent=intent("delivery_time", 0.30), place_stated=True, knowledge_confidence=0.2)
    assert decide(unsure, Thresholds()).reason_code == "low_intent_confidence"
    together = replace(unsure, knowledge_confidence=0.5)  # rule 7's knowledge intents, together sure
    assert decide(together, Thresholds()).reason_code == "answered_from_knowledge"


def test_out_of_scope_gives_way_when_its_knowledge_intents_together_are_sure_and_the_place_is_stated() -> None:
    # "Quels sont vos délais pour la Suisse ?": out of scope at 0.63, delivery_time 0.37 + international 0.10
    oos = signals(intent=intent(None, 0.63), best_score=0.32)
    assert decide(oos, Thresholds()).reason_code == "out_of_scope"
    answered = replace(oos, knowledge_confidence=0.47, place_stated=True)
    assert decide(answered, Thresholds()).reason_code == "answered_from_knowledge"
    assert decide(replace(answered, knowledge_confidence=0.2), Thresholds()).reason_code == "out_of_scope"


ANGRY = SentimentResult(-0.4, "negative", 0.6)


@pytest.mark.parametrize(
    ("overrides", "action", "reason"),
    [
        # a request to be contacted is never an opt-out, however sure the model is
        ({"cues": frozenset({"contact"}), "intent": intent("opt_out", 0.995)}, "escalate", "human_requested"),
        ({"text": "please call me back", "cues": frozenset({"contact"})}, "escalate", "human_requested"),
        # ... but a question asked with it is answered ("How much is shipping? Call me on …")
        ({"text": "How much is shipping? Call me on 06 12", "cues": frozenset({"contact"})}, "reply",
         "answered_from_knowledge"),
        ({"text": "Can you call me?", "cues": frozenset({"contact"}), "intent": intent("opt_out", 0.9)}, "escalate",
         "human_requested"),
        # urgency read as an opt-out goes to a person, never asked to reply STOP
        ({"cues": frozenset({"urgent"}), "intent": intent("opt_out", 0.9)}, "escalate", "urgent"),
        ({"cues": frozenset({"urgent"}), "intent": intent("opt_out", 0.995)}, "escalate", "urgent"),
        # urgency alone changes nothing else: the question is answered
        ({"cues": frozenset({"urgent"})}, "reply", "answered_from_knowledge"),
        # a legal threat goes to a person, but the customer may still leave
        ({"cues": frozenset({"legal"}), "intent": intent("refund_status", 0.9)}, "escalate", "legal_threat"),
        ({"cues": frozenset({"legal"}), "intent": intent("opt_out", 0.995)}, "opt_out", "opt_out_intent"),
        # an item that arrived damaged, whatever the model reads (order_status 0.79 got the tracking link)
        ({"cues": frozenset({"damaged"})}, "escalate", "damage_reported"),
        ({"cues": frozenset({"damaged"}), "intent": intent("damaged_item", 0.9, escalate=True)}, "escalate",
         "intent_escalates"),
        # outrage goes to a person whatever the model reads; an unsure opt-out is not asked to reply STOP
        ({"cues": frozenset({"outrage"}), "intent": intent("refund_status", 0.91)}, "escalate", "grievance"),
        ({"cues": frozenset({"outrage"}), "intent": intent("opt_out", 0.87)}, "escalate", "grievance"),
        ({"cues": frozenset({"outrage"}), "intent": intent("opt_out", 0.995)}, "opt_out", "opt_out_intent"),
        # a customer who says they asked several times already: the answers did not help
        ({"cues": frozenset({"repeated"}), "intent": intent("refund_status", 0.99)}, "escalate", "repeated_failure"),
        # an order still not arrived: the tracking FAQ (order_status 0.98) pretended nothing was wrong
        ({"cues": frozenset({"late"}), "intent": intent("order_status", 0.98)}, "escalate", "late_order"),
        # negative, with escalating intents among the alternatives at the threshold: a person
        ({"sentiment": ANGRY, "escalating_confidence": 0.05}, "escalate", "grievance"),
        ({"sentiment": ANGRY, "escalating_confidence": 0.04}, "reply", "answered_from_knowledge"),
        ({"sentiment": NEUTRAL, "escalating_confidence": 0.5}, "reply", "answered_from_knowledge"),
    ],
)
def test_cues_and_grievances_reach_a_person(overrides: dict[str, object], action: str, reason: str) -> None:
    verdict = decide(signals(**overrides), T)
    assert (verdict.action, verdict.reason_code) == (action, reason)
    assert reason in REASON_CODES


UPSET = SentimentResult(-0.78, "negative", 0.8)


@pytest.mark.parametrize(
    ("overrides", "action", "reason"),
    [
        # a question the model is sure the knowledge base answers is answered, however upset it reads
        ({"text": "¿Qué hago para devolver unas toallas?", "intent": intent("return_policy", 0.99)}, "reply",
         "answered_from_knowledge"),
        # not a question, an unsure intent, or an escalating intent among the alternatives: a person
        ({"text": "I want to return these towels", "intent": intent("return_policy", 0.99)}, "escalate",
         "negative_sentiment"),
        ({"text": "How do I return towels?", "intent": intent("return_policy", 0.3)}, "escalate", "negative_sentiment"),
        ({"text": "How do I return towels?", "intent": intent("return_policy", 0.99), "escalating_confidence": 0.2},
         "escalate", "grievance"),
        ({"text": "Hello?", "intent": intent("greeting", 0.99), "has_template": True}, "escalate",
         "negative_sentiment"),
    ],
)
def test_an_upset_reading_of_a_plain_question_is_answered(overrides: dict[str, object], action: str,
                                                           reason: str) -> None:
    verdict = decide(signals(sentiment=UPSET, **overrides), T)
    assert (verdict.action, verdict.reason_code) == (action, reason)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"intent": intent("damaged_item", 0.9, escalate=True)}, "the message is about “damaged item”, a topic"),
        ({"intent": intent("order_status", 0.3)}, "could not tell what the customer wants (perhaps “order status”)"),
        ({"text": "my order is late", "sentiment": SentimentResult(-0.9, "negative", 0.9)}, "sounds upset"),
        ({"best_score": 0.2}, "the knowledge base holds no answer close enough to the question"),
        ({"repeats": 2}, "the customer asked the same thing 3 times"),
    ],
)
def test_the_reason_says_why_in_words_an_agent_reads(overrides: dict[str, object], words: str) -> None:
    """The reason is the sentence the agent taking over sees ("Bot decision: …" and the conversation's
    summary): it said "intent 'damaged_item' is handled by people" and "sentiment -0.90 is below -0.60"."""
    reason = decide(signals(**overrides), T).reason
    assert words in reason
    assert "_" not in reason and not re.search(r"'\w+'|\d\.\d", reason)
