"""The LLM judge of reply groundedness, through the real ``openai`` client and a loopback fake server."""

from __future__ import annotations

from agent.llm import LlmClient
from eval.groundedness import judge_llm
from tests.fake_llm import fake_llm_server

PASSAGES = ["Standard delivery costs 4.90 EUR and is free from 60 EUR.", "Returns are free within 30 days."]
REPLY = "Delivery costs 4.90 EUR. It is free from 60 EUR. We also deliver to the Moon."


def test_judge_reads_verdicts_per_sentence() -> None:
    with fake_llm_server() as fake:
        fake.answer = "1: yes\n2: yes\n3: no"
        client = LlmClient(base_url=fake.base_url, model="judge", timeout=5)
        assert judge_llm(client, REPLY, PASSAGES) == 0.6667
        prompt = fake.requests[0]["body"]["messages"][1]["content"]
        assert "3. We also deliver to the Moon." in prompt and PASSAGES[1] in prompt


def test_unreadable_or_failing_judge_gives_no_figure() -> None:
    with fake_llm_server() as fake:
        client = LlmClient(base_url=fake.base_url, model="judge", timeout=5)
        fake.answer = "looks fine to me"
        assert judge_llm(client, REPLY, PASSAGES) is None
        fake.status = 500
        assert judge_llm(client, REPLY, PASSAGES) is None
