"""The agents' REST API over conversations and the handoff queue."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from contacts import consent
from contacts.models import Contact
from conversations.models import Conversation, Message
from core import db
from handoff import flows
from tests.campaigns.factories import create_campaign, create_template
from tests.handoff.factories import create_agent, create_conversation
from tests.helpers import auth_headers


def _escalated(phone: str) -> tuple[int, int]:
    with db.session_scope() as session:
        agent = create_agent(session, f"a{phone[-3:]}@example.com", status="offline")
        conversation = create_conversation(session, phone)
        flows.escalate(session, conversation=conversation, reason="human_requested", reason_text="asked for a person")
        return conversation.id, agent.id


def test_inbox_views_counts_and_queue(app_client: TestClient) -> None:
    conversation_id, agent_id = _escalated("+33600000101")
    headers = auth_headers("agent")
    counts = app_client.get("/api/v1/conversations/counts", headers=headers).json()
    assert counts["unassigned"] == 1 and counts["all"] == 1
    unassigned = app_client.get("/api/v1/conversations", params={"view": "unassigned"}, headers=headers).json()
    assert [c["id"] for c in unassigned] == [conversation_id]
    assert unassigned[0]["escalation_reason"] == "human_requested" and unassigned[0]["waiting_since"]
    queue = app_client.get("/api/v1/handoff/queue", headers=headers).json()
    assert queue[0]["conversation_id"] == conversation_id

    no_agent = app_client.post(f"/api/v1/conversations/{conversation_id}/assign", json={}, headers=headers)
    assert no_agent.status_code == 422  # an API key must name the agent
    assigned = app_client.post(
        f"/api/v1/conversations/{conversation_id}/assign", json={"user_id": agent_id}, headers=headers
    )
    assert assigned.json()["state"] == "human" and assigned.json()["assigned_user_id"] == agent_id


def test_context_has_thread_summary_and_escalation(app_client: TestClient) -> None:
    conversation_id, _ = _escalated("+33600000102")
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        contact = session.get(Contact, conversation.contact_id if conversation else 0)
        assert contact is not None
        consent.record_opt_in(session, contact=contact, source="form", proof="signed up in store")
        campaign = create_campaign(session, create_template(session), name="Soldes d'hiver")
        session.add(
            Message(
                contact_id=contact.id,
                direction="out",
                body="-20 % ce week-end",
                status="delivered",
                lane="marketing",
                author_type="campaign",
                campaign_id=campaign.id,
            )
        )
    headers = auth_headers("agent")
    sent = app_client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Bonjour, je regarde."}, headers=headers
    )
    assert sent.status_code == 202 and sent.json()["author_type"] == "api"
    context = app_client.get(f"/api/v1/conversations/{conversation_id}/context", headers=headers).json()
    assert context["escalation"]["reason"] == "human_requested"
    assert [m["author_type"] for m in context["messages"]] == ["system", "api"]
    assert context["contact"]["phone"] == "+33600000102" and context["summary_path"] in ("offline", "empty")
    assert [(e["action"], e["source"]) for e in context["consent_history"]] == [("opt_in", "form")]
    assert [(c["name"], c["status"]) for c in context["campaign_history"]] == [("Soldes d'hiver", "delivered")]
    assert context["campaign_messages"] == 1
    note = app_client.post(f"/api/v1/conversations/{conversation_id}/notes", json={"body": "VIP"}, headers=headers)
    assert note.status_code == 201
    closed = app_client.post(
        f"/api/v1/conversations/{conversation_id}/close", json={"disposition": "nope"}, headers=headers
    )
    assert closed.status_code == 422
    assert context["ended"] is None  # with a person
    closed = app_client.post(
        f"/api/v1/conversations/{conversation_id}/close", json={"disposition": "resolved"}, headers=headers
    )
    assert closed.status_code == 200
    ended = app_client.get(f"/api/v1/conversations/{conversation_id}/context", headers=headers).json()["ended"]
    # how, when and by whom the summary says in words ("Closed at … UTC by …"), for an integration to show its way
    assert ended["how"] == "closed" and ended["disposition"] == "resolved" and ended["by"]
    assert datetime.fromisoformat(ended["at"]).tzinfo is not None


def test_context_says_what_the_contact_may_receive_as_the_contact_card_does(app_client: TestClient) -> None:
    conversation_id, _ = _escalated("+33600000103")
    headers = auth_headers("agent")

    def consent_now() -> dict[str, str | None]:
        context = app_client.get(f"/api/v1/conversations/{conversation_id}/context", headers=headers).json()
        return context["contact"]["consent"]

    # no consent on record: replies reach them, campaigns do not (the card: "No consent on record")
    assert consent_now() == {"status": "none", "texts": None, "marketing": "no_consent"}
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        contact = session.get(Contact, conversation.contact_id if conversation else 0)
        assert contact is not None
        consent.record_opt_in(session, contact=contact, source="form", proof="signed up in store")
    assert consent_now() == {"status": "opted_in", "texts": None, "marketing": None}
    with db.session_scope() as session:
        contact = session.get(Contact, contact.id)
        assert contact is not None
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
    assert consent_now() == {"status": "opted_out", "texts": "opted_out", "marketing": "opted_out"}


def test_supervisor_figures(app_client: TestClient) -> None:
    _escalated("+33600000103")
    figures = app_client.get("/api/v1/handoff/metrics", headers=auth_headers("analyst")).json()
    assert figures["queue_depth"] == 1 and figures["conversations"] == 1
    assert figures["containment_rate"] == 0.0
    assert app_client.get("/api/v1/handoff/metrics", headers=auth_headers("marketer")).status_code == 403


def _named_conversation(phone: str, name: str, *, state: str = "bot") -> int:
    with db.session_scope() as session:
        conversation = create_conversation(session, phone)
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.name = name
        conversation.state = state
        return conversation.id


def test_search_by_name_or_number_as_the_inbox_does(app_client: TestClient) -> None:
    """``q`` finds the conversations of the contacts it names, open and closed, newest first, and
    combines with the views; the roles without conversations are refused as without ``q``."""
    closed = _named_conversation("+33655550101", "Zoé Martin", state="closed")
    open_, _ = _escalated("+33655550101")  # the same contact texts again
    other = _named_conversation("+33655550202", "Hugo Bernard")
    headers = auth_headers("agent")

    def ids(**params: str) -> list[int]:
        answer = app_client.get("/api/v1/conversations", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        assert "Relais-Search-Partial" not in answer.headers
        return [c["id"] for c in answer.json()]

    assert ids(q="zoe") == [open_, closed]  # accents and case ignored
    assert ids(q="06 55 55 01 01") == [open_, closed]  # a national number, matched exactly
    assert ids(q="martin", view="unassigned") == [open_]
    assert ids(q="martin", state="closed") == [closed]
    assert ids(q="bern") == [other]
    assert ids(q="06 55 55 09 09") == [] and ids(q="nobody") == []
    assert set(ids()) == {open_, closed, other}
    too_long = app_client.get("/api/v1/conversations", params={"q": "x" * 201}, headers=headers)
    assert too_long.status_code == 422
    for role in ("marketer", "analyst"):
        refused = app_client.get("/api/v1/conversations", params={"q": "zoe"}, headers=auth_headers(role))
        assert refused.status_code == 403


def test_search_says_when_it_stopped_before_the_end(app_client: TestClient) -> None:
    """More contacts match than one search keeps (50): the answer says so in a header."""
    for n in range(51):
        _named_conversation(f"+336555503{n:02d}", f"Léa {n}")
    answer = app_client.get("/api/v1/conversations", params={"q": "lea", "limit": 500}, headers=auth_headers("agent"))
    assert answer.status_code == 200 and answer.headers["Relais-Search-Partial"] == "true"
    assert len(answer.json()) == 50
