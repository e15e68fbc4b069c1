"""The escalation policy: from what the models said to what the bot does, with the reason.

Rules, first match wins (thresholds from settings):

1. A compliance keyword: STOP-like -> ``opt_out``, HELP-like -> ``help``, START-like -> ``opt_in``
   (a "yes"-like keyword only when the contact is opted out; otherwise it is an ordinary reply).
2. An empty message -> ``silent``. An unintelligible one ("asdfgh qwerty", ``agent.unintelligible``) -> a
   request to rephrase (``unintelligible``), or escalate when the bot's last message was that request.
   An acknowledgement after an answer ("ok", "👍", ``agent.smalltalk.acknowledgement``) -> the thanks
   template (``acknowledgement``), or ``silent`` when the deployment has none or the bot's last message
   was small talk already (it got "Hello, this is…" as a greeting).
3. Cues (``agent.cues``, words in six languages, whatever the model reads): a request to be called
   or contacted that asks no question, or that the model reads as an opt-out -> escalate ("Dringend,
   bitte melden Sie sich" was an opt-out at 0.86); a threat of
   legal action or a payment dispute, or an item that arrived damaged, broken or wrong -> escalate,
   after an opt-out (the customer may still leave); outrage (the shop called a fraud, a scam, thieves, the
   matter a disgrace: "das ist eine Frechheit") -> escalate, after a sure opt-out, and instead of asking an
   unsure one to reply STOP ("Das ist Abzocke, ich will mein Geld zurück!" was opt_out 0.87); a customer
   saying they have asked several times already, that nobody answers, or that they still have nothing ("Toujours
   rien ??") -> escalate (``repeated_failure``); an order the customer says has still not arrived, not after a
   stated wait, or is late -> escalate (``late_order``).
   An intent the model is sure of (confidence >= ``intent_min_confidence``): ``opt_out`` ->
   opt-out when its confidence reaches ``opt_out_direct_confidence``, else ``confirm_opt_out`` (the
   customer is asked to reply STOP: a ledger opt-out only follows words the agent is very sure of,
   or a keyword; an unsure opt-out on a text cancelling an order or asking for the business's phone number or e-mail,
   ``agent.cues`` ``cancel_order`` and ``reach_us``, is no opt-out: the rules below decide); ``abuse`` -> escalate;
   ``human_agent`` -> escalate; an intent marked ``escalate`` -> escalate; an opt-out read on a message saying it is
   urgent -> escalate, never asked to reply STOP. In a prompt-injection attempt only ``human_agent`` and ``abuse``
   count. A message the model reads as an answerable intent, with escalating intents (``escalate``, ``human_agent``,
   ``abuse``) among its alternatives at ``grievance_min_confidence`` together and a negative sentiment label ->
   escalate ("Das ist eine Frechheit! Ich will sofort mein Geld zurück…": refund_status 0.72,
   complaint 0.15, negative).
4. Sentiment score below ``sentiment_escalate_below`` -> escalate, unless the message asks a question
   the model is sure the knowledge base answers, with no escalating intent among the alternatives.
5. The customer asked the same thing ``repeat_failure_limit`` times already and got bot answers
   -> escalate (the answers did not help).
6. An intent with a reply template -> reply with it.
7. Out of scope (the intent model rejects the message) or an intent below ``intent_min_confidence``
   -> escalate, unless the (in-scope) intents the model leads with are all answered from the
   knowledge base and together reach that minimum, and the chosen passage states the place or
   payment method the question names (``Signals.knowledge_confidence``: "How much is delivery to
   Austria?" is 0.34 international shipping, 0.19 shipping cost, and "We deliver to the EU..."
   covers Austria).
   Nor when the passage chosen for every question states the word one passage alone of the knowledge base
   states, or the weight or size, that the question names (``Signals.specific_stated``: "¿Tenéis velas de
   400 g?" is out of scope at 0.99, no Spanish product phrasing among the intents, and the burn times state
   "400 g"; "¿Vuestras velas llevan parafina?" and "…without paraffin").
8. Best retrieval score below ``retrieval_min_score`` -> escalate, unless the chosen passages state what the
   questions specifically name (as in rule 7), or the intent is sure (or the
   knowledge intents reach the minimum together, rule 7) and the passage answerability chose for
   every question states the place it asks about
   (``Signals.place_stated``: "Vous livrez à Lisbonne en combien de jours ?", delivery_time 0.82, scores
   0.30 with "Livrez-vous à l'étranger ?", which covers Portugal).
9. Otherwise reply from the knowledge base.

Without an intent model rules 3, 6 and 7 are skipped and retrieval decides; with the built-in model
only (no deployment intents loaded: ``Signals.intent_model`` is False) rule 7 is skipped, because its
"out of scope" means "no built-in intent", not "outside the business".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.cues import Cue
from agent.decision import Action
from agent.intent.classifier import IntentPrediction
from agent.keywords import KeywordMatch
from agent.sentiment import SentimentResult
from core.settings import Settings

#: Built-in intent names the policy acts on (see agent/resources/intents_builtin.yaml).
OPT_OUT_INTENT = "opt_out"
HUMAN_INTENT = "human_agent"
ABUSE_INTENT = "abuse"
#: The built-in intent whose template answers an acknowledgement ("ok", "👍") too.
THANKS_INTENT = "thanks"
#: Built-in small-talk intents: their templates never answer a question ("jusqu'à quand ?" read as a goodbye).
SMALL_TALK_INTENTS = frozenset({"greeting", THANKS_INTENT, "goodbye"})
#: The intents the policy acts on itself, whatever the knowledge base holds.
POLICY_INTENTS = frozenset({OPT_OUT_INTENT, HUMAN_INTENT, ABUSE_INTENT})

Respond = Literal["keyword", "template", "knowledge", "none"]

#: Calibrated opt-out intent confidence from which a natural-language opt-out unsubscribes directly.
OPT_OUT_DIRECT_CONFIDENCE = 0.98

#: Combined confidence of the escalating intents among the alternatives from which a negative message
#: goes to a person; chosen on the `choose` cases of the agent suite tagged `grievance` (docs/agent.md).
GRIEVANCE_MIN_CONFIDENCE = 0.05


@dataclass(frozen=True)
class Thresholds:
    intent_min_confidence: float = 0.45
    retrieval_min_score: float = 0.35
    # a problem the knowledge base answers ("My discount code is not working", -0.61) is answered;
    # the red-team abuse and the demo English angry case score -0.71 and below (docs/agent.md)
    sentiment_escalate_below: float = -0.7
    repeat_failure_limit: int = 2
    # a natural-language opt-out below this asks the customer to confirm with STOP instead of
    # unsubscribing; chosen on the choosing split of eval/datasets/opt_out_phrasings.yaml
    # (docs/intents.md), not a setting: it guards the consent ledger, not a business preference
    opt_out_direct_confidence: float = OPT_OUT_DIRECT_CONFIDENCE
    # escalating intents' combined confidence from which a negative message reaches a person (rule 3)
    grievance_min_confidence: float = GRIEVANCE_MIN_CONFIDENCE

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            intent_min_confidence=settings.intent_min_confidence,
            retrieval_min_score=settings.retrieval_min_score,
            sentiment_escalate_below=settings.sentiment_escalate_below,
            repeat_failure_limit=settings.repeat_failure_limit,
        )


@dataclass(frozen=True)
class Signals:
    """What the pipeline measured about one message."""

    text: str
    keyword: KeywordMatch | None = None
    opted_out: bool = False
    intent: IntentPrediction | None = None
    intent_model: bool = True
    has_template: bool = False
    sentiment: SentimentResult | None = None
    best_score: float = 0.0
    repeats: int = 0
    injection: bool = False
    #: The combined confidence of the intents the model leads with, as long as each is one the
    #: knowledge base answers (no template, no escalation, none of the intents the policy acts on);
    #: 0 unless the chosen passages state the places or payment methods the questions name.
    knowledge_confidence: float = 0.0
    #: Every question names a place and the passage chosen to answer it states that place.
    place_stated: bool = False
    #: The passage chosen for every question is one the intent model backs (``agent.answerability``:
    #: the model sure of the intent, the passage's title agreeing with its examples).
    intent_backed: bool = False
    #: The passage chosen for every question states what it specifically names: a word one passage alone of the
    #: knowledge base states ("paraffina"), or a weight or size ("400 g") (``agent.answerability.Candidate.specific``).
    specific_stated: bool = False
    #: What ``agent.cues`` found in the text: a request to be contacted, urgency, a legal threat.
    cues: frozenset[Cue] = frozenset()
    #: The combined confidence of the escalating intents (marked ``escalate``, ``human_agent``,
    #: ``abuse``) among the model's alternatives.
    escalating_confidence: float = 0.0
    #: No word of the message is readable (``agent.unintelligible``); ``rephrase_asked``: the bot's last
    #: message asked to rephrase already. The template is then the request to rephrase.
    unintelligible: bool = False
    rephrase_asked: bool = False
    #: The message only acknowledges an answer the customer got; the template is then the thanks reply,
    #: when there is one and the bot's last message was not small talk.
    acknowledgement: bool = False


@dataclass(frozen=True)
class Verdict:
    """The policy's choice: ``respond`` says which responder writes the reply (if any)."""

    action: Action
    reason_code: str
    reason: str
    confidence: float
    respond: Respond


def _words(intent: str) -> str:
    """An intent's name as an agent reads it in a reason: "damaged_item" -> "“damaged item”"."""
    return f"“{intent.replace('_', ' ')}”"


def _plain_question(signals: Signals, name: str | None, thresholds: Thresholds) -> bool:
    """Whether the message asks a question the model is sure the knowledge base answers (an intent with
    no template, not escalating, none the policy acts on), with no escalating intent among the
    alternatives: the sentiment model reads some of these as angry ("¿Qué hago para devolver unas
    sábanas?" -0.78, return_policy 1.00), and an answer is what the customer asked for."""
    intent = signals.intent
    return ("?" in signals.text and name is not None and name not in POLICY_INTENTS and intent is not None
            and not intent.escalate and not signals.has_template
            and signals.escalating_confidence < thresholds.grievance_min_confidence)


def decide(signals: Signals, thresholds: Thresholds) -> Verdict:
    """Apply the rules of the module docstring to ``signals``."""
    keyword = signals.keyword
    if keyword is not None:
        if keyword.kind == "opt_out":
            return Verdict("opt_out", "keyword_opt_out", f"the customer texted {keyword.keyword.upper()}", 1.0,
                           "keyword")
        if keyword.kind == "help":
            return Verdict("help", "keyword_help", f"the customer texted {keyword.keyword.upper()}, asking for help",
                           1.0, "keyword")
        if signals.opted_out or not keyword.is_affirmation:
            # START from a subscribed contact confirms the subscription; a plain "yes" answers a question
            return Verdict("opt_in", "keyword_opt_in",
                           f"the customer texted {keyword.keyword.upper()} to get messages again", 1.0, "keyword")
    if not signals.text.strip():
        return Verdict("silent", "empty_message", "the message has no text", 1.0, "none")
    if signals.unintelligible:
        if signals.rephrase_asked:
            return Verdict("escalate", "unintelligible",
                           "the bot could not read two messages in a row: a person takes over", 1.0, "none")
        return Verdict("reply", "unintelligible", "the bot could not read the message and asks to rephrase it",
                       1.0, "template")
    if signals.acknowledgement:
        if signals.has_template:
            return Verdict("reply", "acknowledgement", "the customer acknowledges the answer", 1.0, "template")
        return Verdict("silent", "acknowledgement", "the customer acknowledges the answer: nothing to add",
                       1.0, "none")

    intent = signals.intent
    sure = intent is not None and intent.intent is not None and intent.confidence >= thresholds.intent_min_confidence
    name = intent.intent if intent is not None and sure else None
    if signals.injection and name not in (HUMAN_INTENT, ABUSE_INTENT):
        # an instruction aimed at the model is not a customer request: its intent (often a
        # misread "stop"/"ignore") must not unsubscribe anyone or pick a template
        name = None
    conf = intent.confidence if intent is not None else 0.0
    if "contact" in signals.cues and (name == OPT_OUT_INTENT or "?" not in signals.text):
        # "How much is shipping? Call me on …" asks a question the bot may answer; read as an opt-out
        # or with nothing asked, a request to be contacted is for a person
        return Verdict("escalate", "human_requested", "the customer asks to be contacted", 1.0, "none")
    if "named_person" in signals.cues:
        # "ich will mit Jonas sprechen" was out of scope (0.92): asking for someone by name is asking for a person
        return Verdict("escalate", "human_requested", "the customer asks for a person by name", 1.0, "none")
    if name == OPT_OUT_INTENT and "urgent" in signals.cues:
        return Verdict("escalate", "urgent",
                       "the customer says it is urgent and may want to stop messages: a person checks", conf, "none")
    if name == OPT_OUT_INTENT and "outrage" in signals.cues and conf < thresholds.opt_out_direct_confidence:
        # "Das ist Abzocke, ich will mein Geld zurück!" (opt_out 0.87) was asked to reply STOP: an outraged
        # customer the model is unsure wants to leave goes to a person, who can still unsubscribe them
        return Verdict("escalate", "grievance",
                       "the customer is outraged and may want to stop messages: a person checks", conf, "none")
    if name == OPT_OUT_INTENT and signals.cues & {"cancel_order", "reach_us"} and \
            conf < thresholds.opt_out_direct_confidence:
        # "Hola, quiero anular mi pedido" (opt_out 0.57) was asked to reply BAJA: an order cancelled is no opt-out; the
        # knowledge base answers it (rules 7-8: the passage about cancelling, ``specific_stated``), or a person. Nor is
        # asking for the shop's phone number ("¿Cuál es vuestro número de teléfono?", opt_out 0.74)
        name, sure = None, False
    if name == OPT_OUT_INTENT:
        if conf >= thresholds.opt_out_direct_confidence:
            return Verdict("opt_out", "opt_out_intent", "the customer asks to stop receiving messages", conf,
                           "keyword")
        return Verdict("confirm_opt_out", "opt_out_unsure",
                       "the customer may want to stop messages, the bot is not sure: they are asked to reply STOP",
                       conf, "keyword")
    if "legal" in signals.cues:
        return Verdict("escalate", "legal_threat", "the customer threatens legal action or a payment dispute", 1.0,
                       "none")
    if name == ABUSE_INTENT:
        return Verdict("escalate", "abuse", "the message is abusive or threatening", conf, "none")
    if name == HUMAN_INTENT:
        return Verdict("escalate", "human_requested", "the customer asks for a person", conf, "none")
    if name is not None and intent is not None and intent.escalate:
        return Verdict("escalate", "intent_escalates",
                       f"the message is about {_words(name)}, a topic that always goes to a person", conf, "none")
    if "damaged" in signals.cues:
        return Verdict("escalate", "damage_reported", "the item arrived damaged, broken or is the wrong one", 1.0,
                       "none")
    if "outrage" in signals.cues:
        # "Ich will mein Geld zurück, das ist eine Frechheit": refund_status 0.91, complaint 0.00, sentiment -0.34
        return Verdict("escalate", "grievance", "the customer calls it a fraud, a scam or a disgrace", 1.0, "none")
    if "repeated" in signals.cues:
        # "This is the third time I'm asking. Where is my refund??" got the refund terms again: the earlier
        # answers, in this thread or elsewhere, did not help (rule 5 counts only this thread's)
        return Verdict("escalate", "repeated_failure",
                       "the customer says they have asked several times already, or still has nothing", 1.0, "none")
    if "late" in signals.cues:
        # "ma commande n'est toujours pas arrivée, ça fait 10 jours" got the tracking FAQ, as if nothing were wrong:
        # the bot cannot see the parcel, a person looks the order up
        return Verdict("escalate", "late_order", "the customer says their order has still not arrived", 1.0, "none")
    sentiment = signals.sentiment
    if sentiment is not None and sentiment.label == "negative" and \
            signals.escalating_confidence >= thresholds.grievance_min_confidence:
        return Verdict("escalate", "grievance",
                       "the customer sounds upset and may be complaining", signals.escalating_confidence, "none")

    if sentiment is not None and sentiment.score < thresholds.sentiment_escalate_below and not _plain_question(
            signals, name, thresholds):
        return Verdict("escalate", "negative_sentiment",
                       "the customer sounds upset",
                       min(1.0, abs(sentiment.score)), "none")
    if signals.repeats >= thresholds.repeat_failure_limit:
        return Verdict("escalate", "repeated_failure",
                       f"the customer asked the same thing {signals.repeats + 1} times: the bot's answers did not help",
                       1.0, "none")

    if name is not None and signals.has_template:
        return Verdict("reply", "intent_template", f"a standard reply to {_words(name)}", conf, "template")
    if signals.intent_model and intent is not None and not signals.specific_stated:
        if intent.intent is None and signals.knowledge_confidence < thresholds.intent_min_confidence:
            return Verdict("escalate", "out_of_scope", "the bot does not handle this kind of request",
                           intent.confidence, "none")
        if not sure and signals.knowledge_confidence < thresholds.intent_min_confidence:
            return Verdict("escalate", "low_intent_confidence",
                           "the bot could not tell what the customer wants" + (
                           f" (perhaps {_words(intent.intent)})" if intent.intent else ""),
                           1.0 - conf, "none")
    answerable = name is not None or signals.knowledge_confidence >= thresholds.intent_min_confidence
    if signals.best_score < thresholds.retrieval_min_score and not signals.specific_stated and not (
            answerable and (signals.place_stated or (name is not None and signals.intent_backed))):
        return Verdict("escalate", "low_retrieval_score",
                       "the knowledge base holds no answer close enough to the question",
                       1.0 - signals.best_score, "none")
    confidence = min(conf, signals.best_score) if name is not None else signals.best_score
    return Verdict("reply", "answered_from_knowledge", "answered from the knowledge base", confidence, "knowledge")
