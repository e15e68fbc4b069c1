"""Agents read the contacts they answer: those with a conversation. An agent's API key or console session listed
every contact through GET /api/v1/contacts (numbers imported for marketing that never texted included) and read
any of them by id, with their consent, orders and predictions, while the console showed agents only the contact
card of a conversation. Marketers and admins still read everyone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core import db
from core.settings import Settings
from tests.console.helpers import create_console_user, log_in
from tests.contacts.helpers import create_contact
from tests.handoff.factories import create_conversation
from tests.helpers import auth_headers

PER_CONTACT = ("", "/consent", "/orders", "/predictions")


def _two_contacts() -> tuple[int, int]:
    """One who texted (a conversation), one imported for marketing who never did."""
    with db.session_scope() as session:
        texted = create_conversation(session, "+33611111111").contact_id
        imported = create_contact(session, 2, name="Imported Only").id
    return texted, imported


def _walk(client: TestClient, headers: dict[str, str], texted: int, imported: int) -> None:
    listed = client.get("/api/v1/contacts", headers=headers).json()
    assert [c["id"] for c in listed["items"]] == [texted]
    assert client.get("/api/v1/contacts", params={"phone": "+33600000002"}, headers=headers).json()["items"] == []
    for tail in PER_CONTACT:
        assert client.get(f"/api/v1/contacts/{texted}{tail}", headers=headers).status_code == 200, tail
        hidden = client.get(f"/api/v1/contacts/{imported}{tail}", headers=headers)
        unknown = client.get(f"/api/v1/contacts/999999{tail}", headers=headers)
        assert (hidden.status_code, unknown.status_code) == (404, 404), tail
        assert hidden.json()["detail"] == f"contact {imported} not found"  # as an unknown id: ids reveal nothing
    opt_out = {"action": "opt_out", "source": "api", "proof": "asked in the conversation"}
    assert client.post(f"/api/v1/contacts/{imported}/consent", headers=headers, json=opt_out).status_code == 404
    assert client.post(f"/api/v1/contacts/{texted}/consent", headers=headers, json=opt_out).status_code == 201


def test_an_agent_key_reads_only_contacts_with_a_conversation(app_client: TestClient) -> None:
    texted, imported = _two_contacts()
    _walk(app_client, auth_headers("agent"), texted, imported)


def test_an_agent_signed_in_reads_only_contacts_with_a_conversation(runtime: Settings) -> None:
    from api.app import create_app

    texted, imported = _two_contacts()
    _, secret = create_console_user("agent@example.com", role="agent")
    with TestClient(create_app(runtime)) as client:
        _walk(client, {"X-CSRF-Token": log_in(client, "agent@example.com", secret)}, texted, imported)


@pytest.mark.parametrize("role", ["marketer", "admin"])
def test_marketers_and_admins_read_every_contact(app_client: TestClient, role: str) -> None:
    texted, imported = _two_contacts()
    headers = auth_headers(role)
    assert [c["id"] for c in app_client.get("/api/v1/contacts", headers=headers).json()["items"]] == [texted, imported]
    for tail in PER_CONTACT:
        assert app_client.get(f"/api/v1/contacts/{imported}{tail}", headers=headers).status_code == 200, tail
