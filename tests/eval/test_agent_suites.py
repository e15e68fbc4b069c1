"""Whole-agent and retrieval suites on the demo business, with cases written by the test."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from eval.agent_suites import agent_suite, retrieval
from eval.runner import RunOptions

CASES = """
cases:
  - {id: ship, text: "Combien coûte la livraison ?", expect: {decision: reply, language: fr,
     source: "Combien coûte la livraison", must_contain: ["4,90"]}, tags: [shipping]}
  - {id: stop, text: "STOP", expect: {decision: opt_out}, tags: [compliance]}
  - {id: wrong-on-purpose, text: "Combien coûte la livraison ?", expect: {decision: escalate,
     must_contain: ["a fact the FAQ does not hold"]}, tags: [shipping]}
  - id: multi
    turns: ["Bonjour"]
    text: "Quels moyens de paiement acceptez-vous ?"
    expect: {decision: reply, language: fr, must_not_contain: ["Bonjour, ici"]}
    tags: [multi-turn]
"""


def test_agent_cases_report_each_failure(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(CASES, encoding="utf-8")
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = agent_suite(RunOptions(settings=settings, data=path, workers=2))
    assert report.summary["cases"] == 4
    assert report.summary["opt_out_recall"] == 1.0
    assert report.summary["pass_rate"] == 0.75
    assert [f.id for f in report.failures] == ["wrong-on-purpose"]
    failure = report.failures[0]
    assert "expected escalate" in failure.detail and "a fact the FAQ does not hold" in failure.detail
    assert any("Combien coûte la livraison" in s for s in failure.sources)
    assert report.summary["fact_coverage"] == 0.5 and report.summary["groundedness"] > 0.5
    assert report.charts["Pass rate by tag"]["shipping"] == 0.5
    assert report.summary["intent_accuracy"] is None  # no case names an intent: n/a, not 1.0
    assert any("intents.yaml" in split for split in report.choices.values())  # where the model was fitted


def test_retrieval_ranks(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text('{"id": "a", "text": "c\'est combien les frais de port", "expect": {"source": "Combien coûte"}}\n'
                    '{"id": "b", "text": "how much is shipping", "expect": {"source": "no such passage"}}\n',
                    encoding="utf-8")
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = retrieval(RunOptions(settings=settings, data=path))
    assert report.summary["n"] == 2
    assert report.summary["hit@3"] == 0.5 and report.metrics["ranks"][1] is None
    assert [f.id for f in report.failures] == ["b"]
