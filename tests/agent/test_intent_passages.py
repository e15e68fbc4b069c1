"""The passages a sure intent agrees with join the candidates when retrieval ranked them too low: across
languages a question's words may miss its FAQ entry ("Quanto tempo ho per restituire un articolo?"
retrieved the return policy 7th, after the label steps, and got the label steps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.pipeline import Inbound, intent_passages
from core.settings import load_settings
from eval.demo import DemoAgent, open_demo_agent

RETURN_POLICY = "What is your return policy?"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAgent]:
    agent = open_demo_agent(load_settings(data_dir=Path(tmp_path_factory.mktemp("demo"))), use_llm=False)
    yield agent
    agent.close()


@pytest.mark.parametrize("text", [
    "Quanto tempo ho per restituire un articolo?",
    "Quantos dias tenho para devolver uma encomenda?",
])  # fmt: skip
def test_a_return_window_question_in_italian_or_portuguese_is_answered_from_the_return_policy(
    demo: DemoAgent, text: str
) -> None:
    top = [hit.question for hit in demo.search(text, k=6)]
    assert RETURN_POLICY not in top  # retrieval alone misses it: what the intent's passages are for
    analysis = demo.pipeline.analyze_batch([Inbound(text=text)])[0]
    assert analysis.decision.action == "reply", analysis.decision.reason
    assert "30 days" in (analysis.decision.reply or "")


def test_only_a_passage_outside_the_hits_that_agrees_with_the_intent_is_added(demo: DemoAgent) -> None:
    pipeline = demo.pipeline
    text = "Quanto tempo ho per restituire un articolo?"
    vector = pipeline.embedder.embed([text])[0]
    hits = demo.search(text, k=6)
    assert pipeline.intents is not None
    prediction = pipeline.intents.predict_embeddings(vector[None, :])[0]
    examples = pipeline._examples(prediction)
    assert examples is not None  # the intent is sure
    added = intent_passages(demo.knowledge, text, vector, hits, kb=demo.kb, examples=examples,
                            embed=pipeline._unit_embed)
    assert [hit.question for hit in added][:1] == [RETURN_POLICY]
    assert not {hit.chunk_id for hit in added} & {hit.chunk_id for hit in hits}
    assert intent_passages(demo.knowledge, text, vector, [], kb=demo.kb, examples=examples,
                           embed=pipeline._unit_embed) == []
