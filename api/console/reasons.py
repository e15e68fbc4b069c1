"""Why a conversation came to a person, in words an agent reads at a glance.

The one mapping from escalation reason codes (``agent.decision.REASON_CODES`` and the handoff's
own ``transfer``/``agent_takeover``) to text; the inbox rows and the conversation's context both
use :func:`describe`.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "human_requested": "Asked for a person",
    "negative_sentiment": "The customer seems upset",
    "abuse": "Abusive or threatening message",
    "intent_escalates": "A topic that always goes to a person",
    "urgent": "Says it is urgent",
    "legal_threat": "Threatens legal action or a payment dispute",
    "damage_reported": "The item arrived damaged, broken or is the wrong one",
    "grievance": "An upset customer with a complaint",
    "repeated_failure": "The bot could not help after several tries",
    "late_order": "Says the order has still not arrived",
    "out_of_scope": "Outside what the bot may answer",
    "low_intent_confidence": "The bot was unsure what the customer wants",
    "low_retrieval_score": "No answer in the knowledge base",
    "opt_out_unsure": "May want to stop messages: check with the customer",
    "opt_out_intent": "Wants to stop messages",
    "media_only": "Sent a picture or file without text",
    "empty_message": "Sent an empty message",
    "unintelligible": "Sent messages the bot could not read, twice",
    "acknowledgement": "Acknowledged the bot's answer",
    "human_owns_conversation": "A person is handling this conversation",
    "transfer": "Transferred by an agent",
    "agent_takeover": "Taken over by an agent",
}


def words(code: str) -> str:
    """A model's or the database's code as words: ``order_status`` → "order status". An intent's name is the
    deployment's own code (``relais intents load``): the thread's badges read "intent order_status 0.93"."""
    return " ".join(code.replace("_", " ").split())


def describe(code: str | None, *, sentiment: float | None = None, intent: str | None = None) -> str:
    """The sentence for ``code``, with the figure behind it when known (a sentiment score, an intent)."""
    if not code:
        return ""
    text = REASONS.get(code, words(code).capitalize())
    if code == "negative_sentiment" and sentiment is not None:
        text += f" (sentiment {sentiment:.2f})".replace("-", "\N{MINUS SIGN}")
    elif code == "intent_escalates" and intent:
        text += f" ({words(intent)})"
    return text


#: A conversation's state (``conversations.models.Conversation.state``) in an agent's words; ``human`` names
#: who has it (:func:`state_words`). The raw state stays on the page as ``data-state`` (and the row's class).
STATES: dict[str, str] = {
    "bot": "Bot answering",
    "queued": "Waiting for an agent",
    "human": "With an agent",
    "closed": "Closed",
}


def state_words(state: str, owner_id: int | None = None, names: dict[int, str] | None = None,
                me: int | None = None) -> str:
    """Where a conversation stands, as its badge says it: "Bot answering", "Waiting for an agent",
    "With you" (``owner_id == me``), "With Camille" (from ``names``), "Closed". The badges read "bot",
    "queued", "human"."""
    if state == "human" and owner_id is not None:
        if owner_id == me:
            return "With you"
        name = (names or {}).get(owner_id)
        return f"With {name}" if name else STATES["human"]
    return STATES.get(state, words(state).capitalize())


#: How ``agent.inbound`` records a customer's text that arrived while a person had the thread: the pipeline read
#: it (language, intent...) and chose what it would have done, but the bot stayed silent.
_LEFT_TO_PERSON = "silent: the conversation is "
#: where the thread stood then, in the words of that note
_LEFT_WHILE = {"queued": "it was waiting for an agent", "human": "an agent had the conversation"}


def left_to_person(handled: object) -> str:
    """Why the bot did not answer a customer's text, in words ("" when it acted on it). The thread showed the
    decision the pipeline would have taken ("bot: reply 0.45", "Bot decision: answered from the knowledge base")
    on a text nobody but the agent could answer, so an agent read it as answered."""
    if not isinstance(handled, str) or not handled.startswith(_LEFT_TO_PERSON):
        return ""
    state = handled.removeprefix(_LEFT_TO_PERSON).split(" ", 1)[0]
    return f"The bot did not answer: {_LEFT_WHILE.get(state, 'a person had the conversation')}"
