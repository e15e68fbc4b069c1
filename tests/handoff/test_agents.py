"""Who is an agent: every active user with the agent or admin role, listed before they ever set a status."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import accounts, db
from core.audit import SYSTEM
from core.settings import Settings
from handoff import flows, service
from handoff.metrics import supervisor_figures
from handoff.models import AgentProfile
from tests.handoff.factories import create_agent


def test_an_agent_who_never_set_a_status_is_listed_offline_and_nothing_is_written(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        _check(session)


def _check(db_session: Session) -> None:
    new = accounts.create_user(db_session, email="lea@example.com", password="long enough password", role="agent")
    admin = accounts.create_user(db_session, email="root@example.com", password="long enough password", role="admin")
    accounts.create_user(db_session, email="mona@example.com", password="long enough password", role="marketer")
    gone = accounts.create_user(db_session, email="old@example.com", password="long enough password", role="agent")
    gone.is_active = False
    online = create_agent(db_session, "camille@example.com", status="online")
    db_session.flush()

    listed = {user.email: profile.status for profile, user in service.agents(db_session)}
    # before: only camille, the one with a profile row; the supervisor said "No agents yet." on a new install
    assert listed == {"lea@example.com": "offline", "root@example.com": "offline", "camille@example.com": "online"}
    assert db_session.scalar(select(func.count()).select_from(AgentProfile)) == 1  # listing wrote nothing
    figures = {a.user_id: a.status for a in supervisor_figures(db_session).agents}
    assert figures == {new.id: "offline", admin.id: "offline", online.id: "online"}

    flows.set_agent_status(db_session, user_id=new.id, status="away", actor=SYSTEM)  # the row is written here
    assert {u.id: p.status for p, u in service.agents(db_session)}[new.id] == "away"
    assert db_session.get(AgentProfile, new.id) is not None


def test_how_a_conversation_ended_names_when_and_who(runtime_any_db: Settings) -> None:
    from core.audit import Actor
    from tests.handoff.factories import create_conversation

    with db.session_scope() as session:
        agent = create_agent(session, "camille@example.com")
        agent.name = "Camille"
        by = Actor(type="user", id=str(agent.id), name=agent.email)
        conversation = create_conversation(session, "+33600000031")
        flows.escalate(session, conversation=conversation, reason="human_requested", notify_customer=False)
        flows.assign(session, conversation_id=conversation.id, user_id=agent.id, actor=by)
        assert service.ending(session, conversation) is None  # with an agent: still escalated
        flows.handback(session, conversation_id=conversation.id, actor=by)
        back = service.ending(session, conversation)
        assert back is not None and (back.how, back.by, back.disposition) == ("handed_back", "Camille", None)
        flows.escalate(session, conversation=conversation, reason="human_requested", notify_customer=False)
        assert service.ending(session, conversation) is None  # escalated again since the hand-back
        flows.close(session, conversation_id=conversation.id, disposition="resolved", actor=SYSTEM)
        closed = service.ending(session, conversation)
        assert closed is not None and (closed.how, closed.by, closed.disposition) == ("closed", "Relais", "resolved")
