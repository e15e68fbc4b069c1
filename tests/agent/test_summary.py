"""The offline summary an agent reads when taking a conversation over."""

from __future__ import annotations

from agent.summary import ThreadLine, summarise
from core.settings import Settings


def test_each_customer_text_stays_apart_and_in_order(runtime: Settings) -> None:
    """Two texts read as two, numbered as they came, not one run-on sentence without a separator."""
    lines = [
        ThreadLine("customer", "Bonjour, où est ma commande 1234"),
        ThreadLine("bot", "Votre commande est en route."),
        ThreadLine("customer", "je veux parler à un humain"),
    ]
    summary = summarise(lines, reason="Asked for a person")
    assert summary.path == "offline"
    assert summary.text == (
        "Customer's texts: (1) “Bonjour, où est ma commande 1234” (2) “je veux parler à un humain” "
        "Escalated: Asked for a person."
    )


def test_a_long_thread_keeps_the_numbers_of_the_texts_it_quotes(runtime: Settings) -> None:
    """Only the most central sentences are kept; each stays under its own text's number (a text
    with nothing kept is a gap in the numbers, one partly kept ends with "…")."""
    texts = ["Hello.", "My lamp arrived broken. The shade is cracked.", "Thanks.", "Can I get a refund for the lamp?"]
    summary = summarise([ThreadLine("customer", t) for t in texts], max_sentences=3)
    assert summary.text == (
        "Customer's texts: (2) “My lamp arrived broken. …” (3) “Thanks.” (4) “Can I get a refund for the lamp?”"
    )


def test_one_text_is_quoted_as_it_was_sent(runtime: Settings) -> None:
    summary = summarise([ThreadLine("customer", "Where is my parcel? It was due yesterday.")])
    assert summary.text == "Customer: “Where is my parcel? It was due yesterday.”"


def test_a_reason_code_is_written_in_words(runtime: Settings) -> None:
    """An escalation that stored no sentence gives its code, which the summary quoted as is."""
    summary = summarise([ThreadLine("customer", "Where is my parcel?")], reason="low_retrieval_score")
    assert summary.text == "Customer: “Where is my parcel?” Escalated: Low retrieval score."


def test_a_thread_handed_back_or_closed_says_so_not_escalated(runtime: Settings) -> None:
    """The summary kept "Escalated: …" after the agent handed the thread back or closed it."""
    from datetime import UTC, datetime

    from handoff.service import Ending

    lines = [ThreadLine("customer", "Where is my parcel?")]
    at = datetime(2026, 12, 1, 9, 42, tzinfo=UTC)
    back = summarise(lines, reason="human_requested", ended=Ending("handed_back", at, "Camille"))
    assert back.text == (
        "Customer: “Where is my parcel?” Handed back to the bot at 2026-12-01 09:42 UTC by Camille "
        "(it had been escalated: Human requested)."
    )
    closed = summarise(lines, reason="human_requested", ended=Ending("closed", at, "Camille", "resolved"))
    assert closed.text == (
        "Customer: “Where is my parcel?” Closed at 2026-12-01 09:42 UTC by Camille as resolved "
        "(it had been escalated: Human requested)."
    )
    unknown = summarise(lines, ended=Ending("closed", at, ""))  # closed by nobody the audit names, never escalated
    assert unknown.text == "Customer: “Where is my parcel?” Closed at 2026-12-01 09:42 UTC."
