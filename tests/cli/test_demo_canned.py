"""`relais demo load` gives the agents canned replies and says which demo accounts set up two-factor authentication."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.encoding import ucs2_characters
from cli.demo import credential_lines, demo_canned
from core import db
from core.models import AuditEntry
from core.settings import Settings
from handoff import service as handoff
from handoff.models import CannedResponse
from tests.console.helpers import create_console_user, escalated_conversation, log_in


def test_the_demo_canned_replies_are_saved_once_in_two_languages(app_client: TestClient, runtime: Settings) -> None:
    assert demo_canned() == 8
    assert demo_canned() == 0  # a second load changes nothing
    with db.session_scope() as session:
        rows = session.scalars(select(CannedResponse)).all()
        assert {c.language for c in rows} == {"fr", "en"}
        assert {c.shortcut for c in handoff.canned_in(session, "fr")} == {"photo", "commande", "rembourse", "bye"}
        assert all(c.language == "fr" for c in handoff.canned_in(session, "fr"))
        # none in Spanish: the English ones, as the bot answers (it offered the first written, the French)
        assert {(c.shortcut, c.language) for c in handoff.canned_in(session, "es")} == {
            ("photo", "en"), ("commande", "en"), ("rembourse", "en"), ("bye", "en")}
        assert [c.title for c in rows if ucs2_characters(c.body)] == []  # 'remplaçons' made a reply UCS-2
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "canned.create")).all()
        assert len(entries) == 8 and {e.actor_type for e in entries} == {"cli"}
    _, secret = create_console_user("camille@example.com", role="agent")
    log_in(app_client, "camille@example.com", secret)
    conversation_id = escalated_conversation("+33611116901", "Mon vase est arrivé cassé", language="fr")
    page = app_client.get(f"/console/conversations/{conversation_id}", headers={"Accept": "text/html"}).text
    assert "Article abîmé — photo" in page and "Damaged item — photo" not in page  # the conversation's language


def test_only_the_roles_that_need_it_are_told_about_two_factor_authentication(runtime: Settings) -> None:
    credentials = {
        "admin@x.example (admin)": "a",
        "agent@x.example (agent)": "b",
        "marketer@x.example (marketer)": "c",
        "analyst@x.example (analyst)": "d",
    }
    lines = credential_lines(credentials, runtime.model_copy(update={"require_2fa_roles": "admin,agent"}))
    noted = [line.split(":")[0].strip() for line in lines if "two-factor" in line]
    assert noted == ["admin@x.example (admin)", "agent@x.example (agent)"]
    assert all("[bold]" in line for line in lines)
