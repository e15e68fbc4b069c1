"""The agent's inbox: who and what at a glance, the most urgent first, readable reasons, canned responses."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from agent.decision import REASON_CODES
from api.console import views
from api.console.reasons import REASONS, describe
from contacts.models import Contact
from conversations.models import Conversation, Message
from core import db
from core.accounts import Principal
from core.models import AuditEntry
from core.rbac import Role
from core.settings import Settings
from handoff.models import CannedResponse, Escalation
from tests.console.helpers import create_console_user, escalated_conversation, log_in
from tests.handoff.factories import create_agent
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _set(conversation_id: int, *, priority: int, due_in_minutes: int, name: str | None = None) -> None:
    with db.session_scope() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == conversation_id)).one()
        escalation.priority = priority
        escalation.sla_due_at = escalation.created_at + timedelta(minutes=due_in_minutes)
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.name = name


def _order(text: str, ids: list[int]) -> list[int]:
    return sorted(ids, key=lambda i: text.index(f'data-conversation-link="{i}"'))


def test_rows_are_sorted_by_priority_then_longest_waiting_with_who_and_what(app_client: TestClient) -> None:
    low = escalated_conversation("+33611112201", "Where is my parcel?")
    urgent = escalated_conversation("+33611112202", "This is the third time I write, nobody answers")
    older = escalated_conversation("+33611112203", "Can I speak to someone?")
    _set(low, priority=3, due_in_minutes=1, name="Zoé Martin")
    _set(urgent, priority=1, due_in_minutes=30, name=None)
    _set(older, priority=3, due_in_minutes=-5, name="Léa Petit")
    page = app_client.get("/console/inbox?view=unassigned", headers={**HTML, **auth_headers("agent")})
    assert _order(page.text, [low, urgent, older]) == [urgent, older, low]
    assert "Zoé Martin" in page.text and "Léa Petit" in page.text
    assert "+33*******02" in page.text and "+33611112202" not in page.text  # no name: the number, masked
    assert "This is the third time I write, nobody answers" in page.text  # the last message's excerpt
    assert "Asked for a person" in page.text and "human_requested" not in page.text
    assert "data-local-time" in page.text and "UTC" in page.text  # the zone is said, the browser localises it
    api = app_client.get("/api/v1/conversations?view=unassigned&sort=priority", headers=auth_headers("agent"))
    assert [c["id"] for c in api.json()] == [urgent, older, low]
    recent = app_client.get("/api/v1/conversations?view=unassigned", headers=auth_headers("agent"))
    assert [c["id"] for c in recent.json()] == [older, urgent, low]  # the API's default stays newest first


def test_a_row_shows_what_the_customer_last_said_not_the_notice_sent_after_it(app_client: TestClient) -> None:
    waiting = escalated_conversation("+33611112211", "My lamp arrived broken")
    bare = escalated_conversation("+33611112212", "Hello?")
    with db.session_scope() as session:
        for conversation_id in (waiting, bare):
            conversation = session.get_one(Conversation, conversation_id)
            session.add(Message(conversation_id=conversation_id, contact_id=conversation.contact_id, direction="out",
                                author_type="system", body="Merci pour votre message. Nos conseillers sont absents.",
                                status="delivered", lane="conversational", analysis={"kind": "after_hours"}))
        session.execute(delete(Message).where(Message.conversation_id == bare, Message.direction == "in"))
    page = app_client.get("/console/inbox?view=unassigned", headers={**HTML, **auth_headers("agent")}).text
    row = page.split(f'data-conversation-link="{waiting}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="excerpt" dir="auto">My lamp arrived broken</span>' in row
    assert "Merci pour votre message" not in row
    only_notice = page.split(f'data-conversation-link="{bare}"', 1)[1].split("</li>", 1)[0]
    assert "Merci pour votre message" in only_notice  # no text from the customer: the last message


def test_excerpt_is_the_last_message_shortened() -> None:
    from api.console.views import EXCERPT_CHARS, excerpt

    assert excerpt("short\n text") == "short text"
    long = excerpt("word " * 100)
    assert len(long) == EXCERPT_CHARS and long.endswith("…")


def test_reasons_read_as_sentences_with_their_figure() -> None:
    assert describe("negative_sentiment", sentiment=-0.62) == "The customer seems upset (sentiment \u22120.62)"
    assert describe("human_requested") == "Asked for a person"
    assert describe("intent_escalates", intent="damaged_item") == "A topic that always goes to a person (damaged item)"
    assert describe("something_new") == "Something new"  # an unmapped code still reads as words
    assert describe(None) == ""


def test_every_escalation_reason_the_bot_gives_has_its_words() -> None:
    # the cues' and grievance codes read "Legal threat", "Damage reported": the code, capitalised
    answered_or_keyword = {"keyword_opt_out", "keyword_help", "keyword_opt_in", "intent_template", "small_talk",
                           "answered_from_knowledge"}
    assert [code for code in REASON_CODES if code not in answered_or_keyword and code not in REASONS] == []


def test_upset_customer_reason_in_the_conversation_context(app_client: TestClient) -> None:
    conversation_id = escalated_conversation("+33611112210", "C'est inadmissible")
    with db.session_scope() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == conversation_id)).one()
        escalation.reason_code, escalation.sentiment = "negative_sentiment", -0.62
    page = app_client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    assert "The customer seems upset (sentiment \u22120.62)" in page.text
    assert 'id="conversation-title">+33*******10<' in page.text


def test_an_offline_agent_with_nothing_of_their_own_lands_on_the_waiting_queue(app_client: TestClient) -> None:
    _, secret = create_console_user("offline@example.com", status="offline")
    for n in range(3):
        escalated_conversation(f"+3361111230{n}")
    log_in(app_client, "offline@example.com", secret)
    home = app_client.get("/console", headers=HTML)  # follows the redirect to the inbox
    assert home.url.path == "/console/inbox"
    assert 'data-view="unassigned"' in home.text and 'id="count-unassigned">3<' in home.text
    assert 'id="offline-notice"' in home.text and "3\n    conversations are waiting" in home.text


def test_canned_responses_are_managed_in_the_console_and_audited(app_client: TestClient) -> None:
    _, secret = create_console_user("canned@example.com")
    csrf = log_in(app_client, "canned@example.com", secret)
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    page = app_client.get("/console/canned", headers=HTML)
    assert page.status_code == 200 and "None yet" in page.text

    made = app_client.post("/console/canned", headers=headers,
                           data={"title": "Delivery times", "body": "Delivery takes 2 to 4 days.", "language": "en"})
    assert made.status_code == 200 and "Delivery takes 2 to 4 days." in made.text
    with db.session_scope() as session:
        canned = session.scalars(select(CannedResponse)).one()
        canned_id = canned.id
    edited = app_client.post(f"/console/canned/{canned_id}", headers=headers,
                             data={"title": "Delivery times", "body": "Delivery takes 2 to 3 days.", "language": "en"})
    assert "Delivery takes 2 to 3 days." in edited.text and "is updated" in edited.text

    empty = app_client.post("/console/canned", headers=headers, data={"title": "", "body": "x", "language": "en"})
    assert empty.status_code == 422 and "title" in empty.text
    wrong = app_client.post("/console/canned", headers=headers, data={"title": "t", "body": "x", "language": "xx"})
    assert wrong.status_code == 422 and "language" in wrong.text
    assert app_client.post("/console/canned", data={"title": "t", "body": "x"}).status_code == 403  # no CSRF

    deleted = app_client.post(f"/console/canned/{canned_id}/delete", headers=headers)
    assert "is deleted" in deleted.text and "None yet" in deleted.text
    with db.session_scope() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "canned_response"))
        actions = [a.action for a in entries]
        assert actions == ["canned.create", "canned.update", "canned.delete"]
    marketer = app_client.get("/console/canned", headers={**HTML, **auth_headers("marketer")})
    assert marketer.status_code == 403



def test_priority_order_holds_on_sqlite_and_postgresql(runtime_any_db: Settings) -> None:
    first = escalated_conversation("+33611112301", "one")
    second = escalated_conversation("+33611112302", "two")
    third = escalated_conversation("+33611112303", "three")
    _set(first, priority=2, due_in_minutes=5)
    _set(second, priority=2, due_in_minutes=1)
    _set(third, priority=1, due_in_minutes=60)
    with db.session_scope() as session:
        agent = create_agent(session, "pg@example.com")
        principal = Principal(kind="user", id=agent.id, name=agent.email, role=Role.AGENT)
        inbox = views.inbox(session, principal, None)
        assert inbox.view == "unassigned"  # nothing of their own yet
        assert [row.conversation.id for row in inbox.rows] == [third, second, first]
        assert [row.excerpt for row in inbox.rows] == ["three", "two", "one"]
