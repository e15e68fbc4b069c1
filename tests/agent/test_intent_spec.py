"""Intent spec validation, merging with the built-in intents, and the built-in spec itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.intent.spec import (
    IntentSpecError,
    builtin_spec,
    load_deployment_spec,
    load_spec,
    merge_with_builtins,
    parse_spec,
)

LANGUAGES = ("en", "fr", "es", "de", "it", "pt")

GOOD = """
intents:
  - name: order_status
    description: Where is my parcel
    examples:
      en: ["where is my order", "has my parcel shipped"]
      fr: ["où en est ma commande"]
    reply:
      en: "Track it at {tracking_url}"
      fr: "Suivez-la sur {tracking_url}"
  - name: refund
    escalate: true
    examples: ["i want my money back", "how do i get a refund"]
out_of_scope: ["what's the weather tomorrow"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_spec_loads_with_languages_and_replies(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.names == ["order_status", "refund"]
    order = spec.get("order_status")
    assert order is not None and order.all_examples()[-1] == "où en est ma commande"
    assert order.reply_for("fr") == "Suivez-la sur {tracking_url}"
    assert order.reply_for("de") == "Track it at {tracking_url}"  # falls back to English
    refund = spec.get("refund")
    assert refund is not None and refund.escalate and refund.reply_for("en") is None
    assert spec.out_of_scope_examples() == ["what's the weather tomorrow"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "intents:\n  - {name: a, examples: [x one, x two]}\n  - {name: a, examples: [y one, y two]}\n",
            "intent 'a': defined 2 times",
        ),
        (
            "intents:\n  - {name: ok, examples: [x one, x two]}\n  - {name: refund, examples: [money back]}\n",
            "intent #2 'refund': examples: needs at least 2 distinct examples, has 1",
        ),
        (
            "intents:\n  - {name: refund, examples: [Money back, money  back]}\n",
            "needs at least 2 distinct examples, has 1",
        ),
        (
            "intents:\n  - {name: a, examples: [same text, x two]}\n  - {name: b, examples: [Same text, y]}\n",
            "intent 'b': example 'Same text' is also an example of 'a'",
        ),
        ("intents:\n  - {name: 9lives, examples: [x one, x two]}\n", "intent #1 '9lives': name: must be letters"),
        (
            "intents:\n  - {name: a, examples: {english: [x one, x two]}}\n",
            "language key 'english' is not an ISO 639 code",
        ),
        ("intents:\n  - {name: a, examples: [x one, x two], escalte: true}\n", "escalte: Extra inputs"),
        ("intents:\n  - {name: a, examples: [x one, '  ']}\n", "empty example"),
        ("intents: []\n", "intents: List should have at least 1 item"),
        ("- just a list\n", "expected a mapping with an 'intents' list"),
        ("intents: [\n", "not valid YAML"),
    ],
)
def test_errors_name_the_file_the_intent_and_the_problem(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(IntentSpecError) as caught:
        load_spec(path)
    assert str(path) in caught.value.detail
    assert expected in caught.value.detail
    assert caught.value.status_code == 422


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    body = "intents:\n  - {name: a, examples: [one]}\n  - {name: B-2, examples: [x, y]}\n"
    with pytest.raises(IntentSpecError) as caught:
        load_spec(write(tmp_path, body))
    assert len(caught.value.errors) == 2
    assert "intent #1 'a'" in caught.value.detail and "intent #2 'B-2'" in caught.value.detail


def test_content_hash_ignores_yaml_layout() -> None:
    flow = parse_spec({"intents": [{"name": "a", "examples": ["x one", "x two"]}]})
    block = parse_spec({"intents": [{"examples": ["x one", "x two"], "name": "a", "escalate": False}]})
    other = parse_spec({"intents": [{"name": "a", "examples": ["x one", "x three"]}]})
    assert flow.content_hash() == block.content_hash() != other.content_hash()
    assert parse_spec(__import__("yaml").safe_load(flow.to_yaml())) == flow


def test_builtin_spec_covers_six_languages_generously() -> None:
    spec = builtin_spec()
    assert set(spec.names) == {"opt_out", "human_agent", "urgent", "greeting", "thanks", "goodbye", "abuse"}
    for name in ("opt_out", "human_agent"):
        intent = spec.get(name)
        assert intent is not None and isinstance(intent.examples, dict)
        for lang in LANGUAGES:
            assert len(intent.examples.get(lang, [])) >= 15, (name, lang)
    escalating = {intent.name for intent in spec.intents if intent.escalate}
    assert escalating == {"human_agent", "urgent", "abuse"}
    assert len(spec.out_of_scope_examples()) >= 100


def test_merging_extends_builtins_and_never_drops_their_examples(tmp_path: Path) -> None:
    body = GOOD.replace(
        "out_of_scope:",
        "  - name: opt_out\n    reply: You are unsubscribed.\n"
        "    examples: [no more offers for me, remove me from the promo list]\nout_of_scope:",
    )
    merged = load_deployment_spec(write(tmp_path, body))
    builtins = builtin_spec()
    assert merged.names[: len(builtins.names)] == builtins.names
    assert merged.names[len(builtins.names) :] == ["order_status", "refund"]
    opt_out = merged.get("opt_out")
    base = builtins.get("opt_out")
    assert opt_out is not None and base is not None
    assert set(base.all_examples()) < set(opt_out.all_examples())
    assert "no more offers for me" in opt_out.all_examples()
    assert opt_out.reply_for("en") == "You are unsubscribed."
    assert opt_out.escalate is False
    assert "what's the weather tomorrow" in merged.out_of_scope_examples()
    assert set(builtins.out_of_scope_examples()) <= set(merged.out_of_scope_examples())


def test_a_deployment_can_refuse_the_generic_out_of_scope_pool() -> None:
    spec = parse_spec(
        {
            "intents": [{"name": "weather", "examples": ["will it rain", "forecast please"]}],
            "generic_out_of_scope": False,
        }
    )
    assert merge_with_builtins(spec).out_of_scope_examples() == []


def test_merging_reports_a_clash_with_a_builtin_example() -> None:
    spec = parse_spec({"intents": [{"name": "bye_bye", "examples": ["goodbye", "see ya"]}]})
    with pytest.raises(IntentSpecError, match="'goodbye' is also an example of 'goodbye'"):
        merge_with_builtins(spec)


def test_a_deployment_example_wins_over_the_same_generic_out_of_scope_entry() -> None:
    spec = parse_spec({"intents": [{"name": "cancel_order", "examples": ["Cancel my order", "stop my order"]}]})
    assert "cancel my order" in builtin_spec().out_of_scope_examples()
    merged = merge_with_builtins(spec)
    assert "cancel my order" not in merged.out_of_scope_examples()
    assert "annuler ma commande" in merged.out_of_scope_examples()
