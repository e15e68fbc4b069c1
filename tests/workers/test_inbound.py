"""``process_inbound``, the job: idempotent, one at a time per conversation, run by a worker.

What the agent does with a message is tested in tests/agent/test_inbound.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from conversations.lock import ConversationBusy, conversation_lock
from core.settings import Settings
from tests.agent.inbound_helpers import inbound_message, outbound, receive
from tests.helpers import run_jobs
from workers.jobs.inbound import process_inbound


def test_a_repeated_job_does_nothing(agent: Settings) -> None:
    message_id = receive("what would the shipping cost me, please?")
    assert process_inbound(message_id) == "replied (offline)"
    assert process_inbound(message_id) == "skipped: already processed"
    assert len(outbound()) == 1


def test_the_conversation_lock_serialises_work(agent: Settings) -> None:
    message_id = receive("How much does shipping cost?")
    conversation_id = inbound_message(message_id).conversation_id
    assert conversation_id is not None
    done: list[str] = []
    with conversation_lock(conversation_id):
        with pytest.raises(ConversationBusy), conversation_lock(conversation_id, wait=0.1):
            pass
        worker = threading.Thread(target=lambda: done.append(process_inbound(message_id)))
        worker.start()
        time.sleep(0.5)
        assert done == [] and outbound() == []  # waiting for the lock
    worker.join(30)
    assert done == ["replied (offline)"]


def test_two_texts_a_second_apart_are_both_answered_in_turn(agent: Settings) -> None:
    ids = [receive("How much does shipping cost?"), receive("Do you sell gift cards?")]
    results: list[str] = []
    threads = [threading.Thread(target=lambda i=i: results.append(process_inbound(i))) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["replied (offline)", "replied (offline)"]
    bodies = sorted(m.body for m in outbound())
    assert "gift cards" in bodies[1] or "gift cards" in bodies[0]
    # whichever ran second saw the first in its history
    histories = [inbound_message(i).analysis for i in ids]
    assert all(h["decision"]["action"] == "reply" for h in histories)


def test_queued_by_persist_inbound_and_run_by_a_worker(agent: Settings) -> None:
    message_id = receive("Combien coûte la livraison ?")
    run_jobs()
    assert inbound_message(message_id).analysis["decision"]["action"] == "reply"
    [reply] = outbound()
    assert "4,90 EUR" in reply.body and reply.status != "queued"  # the send job took it
