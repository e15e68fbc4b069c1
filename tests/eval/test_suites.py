"""The shipped case files measure what they claim: the demo agent suite asks nothing the demo was
trained on word for word and covers six languages and conversations; the red-team injection cases
can fail on the offline path."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from agent.intent import load_spec
from agent.responder.prompts import BrandVoice, build_messages
from core.errors import ValidationFailed
from core.text import fold_words
from eval.cases import load_cases, seen_phrasings, unseen_share
from eval.metrics import fact_coverage
from eval.paths import SUITES_DIR

DEMO = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere"


def test_no_demo_case_is_a_verbatim_intent_example_or_faq_question() -> None:
    """The message under test must be new to the model and to retrieval's questions; earlier turns
    are context (a customer repeating "Where is my order?" is what the repeat rule is for)."""
    spec = load_spec(DEMO / "intents.yaml")
    examples = {fold_words(text) for intent in spec.intents for text in intent.all_examples()}
    with (DEMO / "knowledge" / "faq.csv").open(encoding="utf-8") as handle:
        questions = {fold_words(row["question"]) for row in csv.DictReader(handle)}
    assert len(examples) > 100 and len(questions) > 20
    verbatim = [(case.id, case.text) for case in load_cases(SUITES_DIR / "demo_agent.yaml")
                if fold_words(case.text) in examples | questions]
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


def test_seen_is_computed_from_the_tables_and_training_examples(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- {id: kw, text: 'Stop!!', expect: {decision: opt_out}}\n"
        "- {id: example, text: 'please stop texting me', expect: {decision_in: [opt_out, confirm_opt_out]}}\n"
        "- {id: new, text: 'kindly erase my mobile from your mailing list', expect: {decision: opt_out}}\n"
        "- {id: look-alike, text: 'stop sending the wrong size', expect: {decision_in: [reply, confirm_opt_out]}}\n",
        encoding="utf-8")
    cases = {case.id: case for case in load_cases(path)}
    assert fold_words("please stop texting me") in seen_phrasings()  # a built-in intent example
    assert [(cases[i].seen, cases[i].tags) for i in ("kw", "example", "new")] == [
        (True, ["seen"]), (True, ["seen"]), (False, ["unseen"])]
    assert cases["look-alike"].seen is None and unseen_share(list(cases.values())) == 0.3333
    path.write_text("- {id: x, text: 'STOP', expect: {decision: opt_out}, seen: false}\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="seen is computed"):
        load_cases(path)


def test_most_red_team_opt_outs_are_phrasings_nothing_was_trained_on() -> None:
    cases = load_cases(SUITES_DIR / "redteam.yaml")
    assert sum(case.is_opt_out for case in cases) >= 16
    share = unseen_share(cases)
    assert share is not None and share >= 0.5, share
    assert all("unseen" in case.tags for case in cases if case.seen is False)  # reports break pass rates down by it
