"""Supervisor figures against the real database."""

from __future__ import annotations

from core import db
from core.audit import SYSTEM
from core.settings import Settings
from handoff import flows, metrics
from tests.handoff.factories import create_agent, create_conversation


def test_a_hand_back_to_the_bot_is_counted_apart_from_a_resolution(runtime_any_db: Settings) -> None:
    """A supervisor reading "Resolved 2" must not count a conversation the agent gave back to the
    bot (the customer's matter may still be open): one close and one hand-back are 1 and 1."""
    with db.session_scope() as session:
        agent = create_agent(session, "camille@example.com")
        closed, returned = create_conversation(session, "+33600000021"), create_conversation(session, "+33600000022")
        for conversation in (closed, returned):
            flows.escalate(session, conversation=conversation, reason="x", notify_customer=False)
            assert conversation.assigned_user_id == agent.id
        flows.close(session, conversation_id=closed.id, disposition="resolved", actor=SYSTEM)
        flows.handback(session, conversation_id=returned.id, actor=SYSTEM)
        (figures,) = metrics.supervisor_figures(session).agents
        assert (figures.resolved, figures.handed_back, figures.active) == (1, 1, 0)
