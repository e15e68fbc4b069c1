"""What one customer text costs the inbound job once the agent is warm, on SQLite and PostgreSQL:
one encoder call (the message's own), one database connection, a handful of statements. The
passages' sentences and the intents' examples were embedded when the pipeline was built; the
message, its thread and its sender come in one statement, and the agent's version check runs in
the job's transaction. A change that reloads something per message fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event
from threadpoolctl import threadpool_info, threadpool_limits

from agent import pipeline as pipeline_module
from agent.answerability import CachedEmbed, passage_texts
from agent.pipeline import Pipeline
from agent.runtime import get_runtime, reset_runtime
from core import db
from core.settings import Settings
from knowledge.embeddings import get_embedder
from tests.agent.inbound_helpers import inbound_message, outbound, receive
from workers.jobs.inbound import process_inbound

#: The inbound job's statements for a first text answered from the knowledge base: the message with
#: its thread and sender, the agent's version check, the history, the reply's insert, the thread's
#: language and last message time, the analysis, the contact's learnt language.
MAX_STATEMENTS = 7


class Cost:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        self.encoded: list[int] = []


@pytest.fixture
def cost(agent_any_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cost]:
    counted = Cost()
    model = get_embedder(agent_any_db.embedding_backend)._model  # type: ignore[attr-defined]
    encode = model.encode

    def counting_encode(texts: list[str]) -> Any:
        counted.encoded.append(len(texts))
        return encode(texts)

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.statements.append(" ".join(statement.split())[:90])

    def on_checkout(*args: Any) -> None:
        counted.checkouts += 1

    engine = db.engine()
    # warm: the first message builds the pipeline (examples and passages embedded once)
    process_inbound(receive("How much does shipping cost?", phone="+33612340001"))
    monkeypatch.setattr(model, "encode", counting_encode)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine.pool, "checkout", on_checkout)


def test_a_text_costs_one_encoder_call_one_connection_and_a_few_statements(cost: Cost) -> None:
    cost.encoded.clear()
    message_id = receive("Do you ship abroad?", phone="+33612340002")
    conversation_id = inbound_message(message_id).conversation_id
    cost.statements.clear()
    cost.checkouts = 0
    assert process_inbound(message_id, conversation_id) == "replied (offline)"
    assert cost.encoded == [1], "the message alone is embedded"
    assert cost.checkouts == 1, "one connection for the whole job"
    assert len(cost.statements) <= MAX_STATEMENTS, "\n".join(cost.statements)
    [reply] = [m for m in outbound() if m.conversation_id == conversation_id]
    assert "deliver" in reply.body.lower()


def test_a_follow_up_is_embedded_in_the_same_call(cost: Cost) -> None:
    first = receive("How much does shipping cost?", phone="+33612340003")
    process_inbound(first)
    cost.encoded.clear()
    follow_up = receive("and for express?", phone="+33612340003")
    assert process_inbound(follow_up) == "replied (offline)"
    # the rewritten question, the follow-up's own words and the earlier answered message: one call
    assert len(cost.encoded) == 1 and cost.encoded[0] >= 2
    conversation_id = inbound_message(follow_up).conversation_id
    replies = [m.body for m in outbound() if m.conversation_id == conversation_id]
    assert "9,90" in replies[-1] or "9.90" in replies[-1]


def test_warm_up_embeds_the_passages_once_within_the_cap(agent: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    knowledge = get_runtime(agent).knowledge
    every = [text for hit in knowledge.passages("default") for text in passage_texts(hit)]
    assert len(every) > 4

    def warm(calls: list[list[str]]) -> None:
        def counting(texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return knowledge.embedder.embed(texts)

        Pipeline(settings=agent, knowledge=knowledge, intents=None, unit_embed=CachedEmbed(counting)).warm_up()

    within: list[list[str]] = []
    warm(within)
    assert sorted(within[0]) == sorted(dict.fromkeys(every))  # one call for the whole knowledge base
    monkeypatch.setattr(pipeline_module, "PREFILL_MAX_TEXTS", 4)
    beyond: list[list[str]] = []
    warm(beyond)
    assert all(len(call) < len(set(every)) for call in beyond)  # embedded as the samples' questions reach them


def blas_threads() -> set[int]:
    return {int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_the_agent_process_runs_its_numpy_products_on_one_blas_thread(runtime: Settings) -> None:
    """After each of the pipeline's small products (passage scores, sentiment, intent), OpenBLAS's
    second thread spun waiting for more work: 6 ms of processor time per text in batches of 8."""
    reset_runtime()
    with threadpool_limits(limits=2, user_api="blas"):  # what a process on a 2-core host starts with
        assert blas_threads() == {2}
        try:
            get_runtime(runtime)
            assert blas_threads() == {1}
        finally:
            reset_runtime()
