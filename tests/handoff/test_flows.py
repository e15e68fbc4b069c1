"""Escalation, routing, re-queueing, SLA, hand-back and close against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conversations.models import Conversation, Message
from core import accounts, db
from core.audit import SYSTEM, Actor
from core.db import utcnow
from core.errors import Conflict
from core.models import AuditEntry, WebhookDelivery
from core.settings import Settings
from core.webhooks import create_subscription
from handoff import flows, routing
from handoff.models import AgentProfile, Escalation, Team
from tests.handoff.factories import create_agent, create_conversation


def test_escalation_routes_to_the_least_busy_speaker_and_tells_the_customer(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        busy = create_agent(session, "busy@example.com", languages=["fr", "en"])
        free = create_agent(session, "free@example.com", languages=["fr"])
        create_agent(session, "en-only@example.com", languages=["en"])
        taken = create_conversation(session, "+33600000001")
        flows.assign(session, conversation_id=taken.id, user_id=busy.id, actor=SYSTEM)
        conversation = create_conversation(session, "+33600000002", language="fr")
        escalation = flows.escalate(
            session, conversation=conversation, reason="human_requested", analysis={"sentiment": {"score": -0.8}}
        )
        assert conversation.state == "human" and conversation.assigned_user_id == free.id
        assert escalation.status == "assigned" and escalation.priority == 2
        notice = session.scalars(select(Message).where(Message.conversation_id == conversation.id)).one()
        assert notice.author_type == "system" and "Une personne de notre équipe" in notice.body


def test_at_equal_load_the_agent_who_speaks_the_customers_language_comes_first(runtime_any_db: Settings) -> None:
    """A Spanish customer the (fr/en) knowledge base could not answer reaches the Spanish speaker when
    the agent who lists no languages is as busy (tests/handoff/test_routing.py: the less busy first)."""
    with db.session_scope() as session:
        create_agent(session, "any@example.com")  # no languages listed: takes anything
        speaker = create_agent(session, "es@example.com", languages=["fr", "es"])
        conversation = create_conversation(session, "+34600000002", language="es")
        flows.escalate(session, conversation=conversation, reason="low_retrieval_score", notify_customer=False)
        assert conversation.assigned_user_id == speaker.id
        # no known language: the least busy agent
        other = create_conversation(session, "+44700000001", language=None)
        flows.escalate(session, conversation=other, reason="low_retrieval_score", notify_customer=False)
        assert other.assigned_user_id is not None and other.assigned_user_id != speaker.id


def test_without_agents_it_waits_then_routes_when_one_comes_online(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        agent = create_agent(session, "late@example.com", status="offline")
        conversation = create_conversation(session)
        flows.escalate(session, conversation=conversation, reason="out_of_scope")
        assert conversation.state == "queued"
        flows.set_agent_status(session, user_id=agent.id, status="online", actor=SYSTEM)
        assert conversation.state == "human" and conversation.assigned_user_id == agent.id


def test_going_offline_requeues_to_another_agent(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        first = create_agent(session, "first@example.com")
        conversation = create_conversation(session)
        flows.escalate(session, conversation=conversation, reason="out_of_scope", notify_customer=False)
        assert conversation.assigned_user_id == first.id
        second = create_agent(session, "second@example.com")
        flows.set_agent_status(session, user_id=first.id, status="offline", actor=SYSTEM)
        assert conversation.assigned_user_id == second.id
        escalation = flows.open_escalation(session, conversation.id)
        assert escalation is not None and escalation.requeue_count == 1


def test_capacity_is_respected(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        create_agent(session, "solo@example.com", max_concurrent=1)
        one, two = create_conversation(session, "+33600000011"), create_conversation(session, "+33600000012")
        flows.escalate(session, conversation=one, reason="x", notify_customer=False)
        flows.escalate(session, conversation=two, reason="x", notify_customer=False)
        assert (one.state, two.state) == ("human", "queued")


def test_missed_sla_is_flagged_and_prioritised(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        conversation = create_conversation(session)
        escalation = flows.escalate(session, conversation=conversation, reason="x", notify_customer=False)
        escalation.sla_due_at = utcnow() - timedelta(minutes=1)
        before = escalation.priority
        assert flows.check_sla(session) == 1
        assert escalation.sla_breached and escalation.priority == before - 1
        assert flows.check_sla(session) == 0


def test_handback_then_close_are_audited_and_notify(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        create_subscription(session, url="https://hooks.example.invalid/hook", event_types=["conversation.closed"])
        agent = create_agent(session, "closer@example.com")
        conversation = create_conversation(session)
        flows.escalate(session, conversation=conversation, reason="x", notify_customer=False)
        flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
        assert conversation.state == "bot" and conversation.assigned_user_id is None
        assert session.scalar(select(Escalation.disposition)) == "handed_back"
        flows.assign(session, conversation_id=conversation.id, user_id=agent.id, actor=SYSTEM)
        flows.close(session, conversation_id=conversation.id, disposition="resolved", actor=SYSTEM)
        conversation_id = conversation.id
    with db.session_scope() as session:
        closed = session.get(Conversation, conversation_id)
        assert closed is not None and closed.state == "closed" and closed.closed_at is not None
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"conversation.handback", "conversation.assign", "conversation.close"} <= actions
        assert session.scalar(select(WebhookDelivery.event_type)) == "conversation.closed"


def test_refusals_say_who_has_the_thread_and_what_a_closed_one_means(runtime_any_db: Settings) -> None:
    """An agent replying to a colleague's thread is told whose it is and how to take it (it said
    "transfer it first", although Assign to me takes it); a closed one, that the customer's next
    text starts a new one."""
    with db.session_scope() as session:
        owner = create_agent(session, "camille@example.com")
        owner.name = "Camille"
        other = create_agent(session, "luis@example.com")
        team = Team(name="Support")
        session.add(team)
        session.flush()
        conversation = create_conversation(session)
        flows.assign(session, conversation_id=conversation.id, user_id=owner.id, actor=SYSTEM)
        with pytest.raises(Conflict, match=r"^Camille has this conversation: assign it to yourself first"):
            flows.agent_reply(session, conversation_id=conversation.id, user_id=other.id, body="Hola", actor=SYSTEM)
        flows.close(session, conversation_id=conversation.id, disposition="resolved", actor=SYSTEM)
        closed = conversation.id
        for refused in (
            lambda: flows.agent_reply(session, conversation_id=closed, user_id=owner.id, body="Hi", actor=SYSTEM),
            lambda: flows.handback(session, conversation_id=closed, actor=SYSTEM),
            lambda: flows.assign(session, conversation_id=closed, user_id=other.id, actor=SYSTEM),
            # a page drawn before the close closed it again (its time, disposition, audit, webhook) or re-queued it
            lambda: flows.close(session, conversation_id=closed, disposition="spam", actor=SYSTEM),
            lambda: flows.transfer(session, conversation_id=closed, to_team_id=team.id, actor=SYSTEM),
        ):
            with pytest.raises(Conflict, match="the customer's next text starts a new one"):
                refused()


def test_taking_a_conversation_from_someone_the_person_did_not_see_with_it_is_refused(
    runtime_any_db: Settings,
) -> None:
    """A console page drawn while the thread waited offered "Assign to me" without asking; pressed after a colleague
    took it, it took it from them without a word. Taking it from the owner seen (or from nobody) still works."""
    with db.session_scope() as session:
        camille = create_agent(session, "camille@example.com")
        camille.name = "Camille"
        jonas = create_agent(session, "jonas@example.com")
        conversation = create_conversation(session)
        flows.assign(session, conversation_id=conversation.id, user_id=camille.id, actor=SYSTEM)
        with pytest.raises(Conflict, match=r"^Camille took this conversation meanwhile: press Assign to me again"):
            flows.assign(session, conversation_id=conversation.id, user_id=jonas.id, actor=SYSTEM, taking_from=None)
        assert conversation.assigned_user_id == camille.id
        flows.assign(session, conversation_id=conversation.id, user_id=camille.id, actor=SYSTEM, taking_from=None)
        flows.assign(session, conversation_id=conversation.id, user_id=jonas.id, actor=SYSTEM, taking_from=camille.id)
        assert conversation.assigned_user_id == jonas.id
        flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
        flows.assign(session, conversation_id=conversation.id, user_id=camille.id, actor=SYSTEM, taking_from=jonas.id)
        assert conversation.assigned_user_id == camille.id  # the bot had it: nobody to take it from


def test_the_status_an_agent_already_has_changes_nothing(runtime_any_db: Settings) -> None:
    """Choosing Online again (a second tab drawn before the change, an integration repeating itself) was audited as
    "online → online", stamped a new status time and re-ran routing; Offline again put back in the queue what the
    agent had taken while offline. The status they have, offline for one who never set one, now does nothing."""
    with db.session_scope() as session:
        online = create_agent(session, "online@example.com")
        away = create_agent(session, "away@example.com", status="away")
        taken = create_conversation(session, "+33600000031")
        flows.assign(session, conversation_id=taken.id, user_id=away.id, actor=SYSTEM)  # taken while away
        # no profile yet: listed offline
        newcomer = accounts.create_user(session, email="new@example.com", password="long enough password", role="agent")
        since = session.get(AgentProfile, online.id).status_changed_at  # type: ignore[union-attr]
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
        flows.set_agent_status(session, user_id=online.id, status="online", actor=SYSTEM)
        flows.set_agent_status(session, user_id=away.id, status="away", actor=SYSTEM)
        flows.set_agent_status(session, user_id=newcomer.id, status="offline", actor=SYSTEM)
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited
        assert session.get(AgentProfile, online.id).status_changed_at == since  # type: ignore[union-attr]
        assert (taken.state, taken.assigned_user_id) == ("human", away.id)
        assert session.get(AgentProfile, newcomer.id) is None  # nothing written for a choice that changed nothing
        # a change is still a change
        flows.set_agent_status(session, user_id=newcomer.id, status="online", actor=SYSTEM)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.status")).one()
        assert entry.diff == {"status": ["offline", "online"]}


def test_a_transfer_goes_only_to_a_colleague_at_a_console(runtime_any_db: Settings) -> None:
    """A transfer to an agent with no console session was taken; the SLA job put the conversation back in the queue
    half a minute later (routing.absent_owners) and it was routed to the sender again, without a word."""
    with db.session_scope() as session:
        camille = create_agent(session, "camille@example.com")
        lea = create_agent(session, "lea@example.com", signed_in=False)
        lea.name = "Léa"
        jonas = create_agent(session, "jonas@example.com", status="away")
        conversation = create_conversation(session)
        flows.assign(session, conversation_id=conversation.id, user_id=camille.id, actor=SYSTEM)
        with pytest.raises(Conflict, match=r"^Léa is not signed in to the console, so the conversation would come"):
            flows.transfer(session, conversation_id=conversation.id, to_user_id=lea.id, actor=SYSTEM)
        assert (conversation.state, conversation.assigned_user_id) == ("human", camille.id)
        flows.transfer(session, conversation_id=conversation.id, to_user_id=jonas.id, actor=SYSTEM)
        assert (conversation.state, conversation.assigned_user_id) == ("human", jonas.id)
        assert routing.absent_owners(session) == []  # it stays with him


def test_an_assignment_to_someone_else_goes_only_to_a_colleague_at_a_console(runtime_any_db: Settings) -> None:
    """POST /conversations/{id}/assign to an agent with no console session was taken, and the SLA job bounced the
    conversation back to the queue half a minute later; taking it for oneself needs no check (the reader is there)."""
    with db.session_scope() as session:
        lea = create_agent(session, "lea@example.com", signed_in=False)
        lea.name = "Léa"
        conversation = create_conversation(session)
        with pytest.raises(Conflict, match=r"^Léa is not signed in to the console, so the conversation would come"
                                           r" back to the queue: assign it to a colleague who is signed in"):
            flows.assign(session, conversation_id=conversation.id, user_id=lea.id, actor=SYSTEM)
        assert (conversation.state, conversation.assigned_user_id) == ("bot", None)
        herself = Actor(type="user", id=str(lea.id), name=lea.email)
        flows.assign(session, conversation_id=conversation.id, user_id=lea.id, actor=herself, taking_from=None)
        assert (conversation.state, conversation.assigned_user_id) == ("human", lea.id)
