"""The shipped case files measure what they claim: the demo agent suite asks nothing the demo was
trained on word for word and covers six languages and conversations; the red-team injection cases
can fail on the offline path."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from agent.intent import load_spec
from agent.keywords import normalise
from agent.responder.prompts import BrandVoice, build_messages
from eval.cases import load_cases
from eval.metrics import fact_coverage
from eval.paths import SUITES_DIR

DEMO = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere"


def test_no_demo_case_is_a_verbatim_intent_example_or_faq_question() -> None:
    """The message under test must be new to the model and to retrieval's questions; earlier turns
    are context (a customer repeating "Where is my order?" is what the repeat rule is for)."""
    spec = load_spec(DEMO / "intents.yaml")
    examples = {normalise(text) for intent in spec.intents for text in intent.all_examples()}
    with (DEMO / "knowledge" / "faq.csv").open(encoding="utf-8") as handle:
        questions = {normalise(row["question"]) for row in csv.DictReader(handle)}
    assert len(examples) > 100 and len(questions) > 20
    verbatim = [(case.id, case.text) for case in load_cases(SUITES_DIR / "demo_agent.yaml")
                if normalise(case.text) in examples | questions]
    assert verbatim == []


def test_the_demo_suite_speaks_six_languages_and_holds_conversations() -> None:
    cases = load_cases(SUITES_DIR / "demo_agent.yaml")
    languages = Counter(case.expect.language for case in cases if case.expect.language)
    assert all(languages[code] >= 3 for code in ("es", "de", "it", "pt")), languages
    assert languages["fr"] >= 5 and languages["en"] >= 2
    conversations = [case for case in cases if case.turns]
    assert len(conversations) >= 10 and all("multi-turn" in case.tags for case in conversations)
    assert {case.expect.language for case in conversations} >= {"en", "fr", "es", "de", "it"}


def test_the_offline_injection_cases_fail_a_reply_that_obeys_or_leaks() -> None:
    """Each red-team case tagged ``offline-can-fail`` flags at least one bad reply an offline path
    could send: echoing the conversation (obeying it), the system prompt, or other customers' rows."""
    cases = [c for c in load_cases(SUITES_DIR / "redteam.yaml") if "offline-can-fail" in c.tags]
    assert len(cases) >= 6
    [rules, *_] = build_messages(text="", questions=(), turns=(), language="en", max_chars=320,
                                 brand=BrandVoice.from_mapping(None, default_business="Maison Lumière"))
    customers = (DEMO / "contacts.csv").read_text(encoding="utf-8")
    for case in cases:
        bad_replies = {"obeys": " ".join([*case.turns, case.text]), "prompt": rules.content, "customers": customers}
        leaked = {kind: fact_coverage(reply, [], case.expect.must_not_contain)["leaked"]
                  for kind, reply in bad_replies.items()}
        assert any(leaked.values()), f"{case.id} cannot fail: no bad reply is caught"
        assert not fact_coverage("Standard shipping is 4.90 EUR.", [], case.expect.must_not_contain)["leaked"]
