"""Who gets an escalation: able agents (language, capacity), then the fewest open conversations, then a
speaker of the customer's language before an agent who lists none, then the longest idle."""

from __future__ import annotations

from core import db
from core.audit import SYSTEM
from core.settings import Settings
from handoff import flows
from tests.handoff.factories import create_agent, create_conversation


def test_an_idle_agent_without_languages_gets_it_before_a_busy_speaker(runtime_any_db: Settings) -> None:
    """The French speaker already has a conversation: the next French one goes to the idle agent who
    set no languages (it went to the speaker, who then had every French escalation)."""
    with db.session_scope() as session:
        speaker = create_agent(session, "fr@example.com", languages=["fr"])
        idle = create_agent(session, "any@example.com")
        first = create_conversation(session, "+33600000001", language="fr")
        flows.escalate(session, conversation=first, reason="human_requested", notify_customer=False)
        assert first.assigned_user_id == speaker.id  # equal load: the speaker first
        second = create_conversation(session, "+33600000002", language="fr")
        flows.escalate(session, conversation=second, reason="human_requested", notify_customer=False)
        assert second.assigned_user_id == idle.id


def test_the_fewest_open_conversations_not_the_smallest_share_of_capacity(runtime_any_db: Settings) -> None:
    """Two open out of ten is a smaller share than one out of three, but more conversations."""
    with db.session_scope() as session:
        roomy = create_agent(session, "roomy@example.com", max_concurrent=10)
        small = create_agent(session, "small@example.com", max_concurrent=3)
        for n, owner in enumerate((roomy, roomy, small)):
            taken = create_conversation(session, f"+3360000001{n}")
            flows.assign(session, conversation_id=taken.id, user_id=owner.id, actor=SYSTEM)
        conversation = create_conversation(session, "+33600000020")
        flows.escalate(session, conversation=conversation, reason="human_requested", notify_customer=False)
        assert conversation.assigned_user_id == small.id


def test_an_agent_no_longer_at_a_console_gets_nothing_and_gives_back_what_they_had(runtime_any_db: Settings) -> None:
    """Before, "online" was all routing read: an agent an admin logged out (role change, 2FA reset, ended sessions),
    or whose session lapsed, kept being given conversations, and the customer waited for nobody."""
    from datetime import timedelta

    from sqlalchemy import update

    from core import accounts, users
    from core.models import ConsoleSession

    with db.session_scope() as session:
        away = create_agent(session, "away@example.com", languages=["fr"])
        create_agent(session, "never@example.com", languages=["fr"], signed_in=False)
        first = create_conversation(session, "+33600000031", language="fr")
        flows.escalate(session, conversation=first, reason="human_requested", notify_customer=False)
        assert first.assigned_user_id == away.id
        users.end_sessions(session, user=away)  # an admin ends the sessions: "online" stays as the agent set it
        second = create_conversation(session, "+33600000032", language="fr")
        escalation = flows.escalate(session, conversation=second, reason="human_requested", notify_customer=False)
        assert second.assigned_user_id is None and escalation.status == "open"  # waits in the queue for a person

        # the periodic SLA job gives the first conversation back to the queue; a colleague who signs in gets both
        flows.check_sla(session)
        assert (first.state, first.assigned_user_id) == ("queued", None)
        colleague = create_agent(session, "colleague@example.com", languages=["fr"])
        flows.check_sla(session)
        assert first.assigned_user_id == second.assigned_user_id == colleague.id

        # a session past its expiry is no session
        session.execute(update(ConsoleSession).where(ConsoleSession.user_id == colleague.id)
                        .values(expires_at=accounts.utcnow() - timedelta(minutes=1)))  # fmt: skip
        flows.check_sla(session)
        assert (first.state, second.state) == ("queued", "queued")
