"""The contacts API: CRUD, roles, merge, attributes and lists, consent, suppressions, opt-out links."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from conversations.models import Conversation, Message
from core import db
from core.models import AuditEntry
from tests.helpers import auth_headers

NUMBER = "+33612345678"


def _texted(contact_id: int) -> None:
    """Give the contact a conversation: agents read the contacts they answer (``conversations.visibility``)."""
    with db.session_scope() as session:
        session.add(Conversation(contact_id=contact_id, sender="RELAIS"))


def test_crud_roles_and_audit(app_client: TestClient) -> None:
    marketer, agent, analyst = auth_headers("marketer"), auth_headers("agent"), auth_headers("analyst")
    assert (
        app_client.post(
            "/api/v1/contacts/attributes",
            headers=marketer,
            json={"name": "plan", "type": "string", "segmentable": True},
        ).status_code
        == 201
    )
    created = app_client.post(
        "/api/v1/contacts",
        headers=marketer,
        json={
            "phone": "06 12 34 56 78",
            "name": "Ana Lima",
            "first_name": "Ana",
            "language": "pt",
            "attributes": {"plan": "gold"},
            "tags": ["vip"],
            "consent": {"action": "opt_in", "source": "form", "proof": "web form 2024-05"},
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["phone"], contact["country"], contact["timezone"]) == (NUMBER, "FR", "Europe/Paris")
    assert contact["consent_status"] == "opted_in"
    cid = contact["id"]

    duplicate = app_client.post("/api/v1/contacts", headers=marketer, json={"phone": NUMBER})
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["contact_id"] == cid
    bad = app_client.post(
        "/api/v1/contacts", headers=marketer, json={"phone": "+336", "attributes": {"x": 1}}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    wrong_type = app_client.post(
        "/api/v1/contacts/attributes", headers=marketer, json={"name": "age", "type": "integer"}
    )
    assert wrong_type.status_code == 422

    _texted(cid)
    assert app_client.get(f"/api/v1/contacts/{cid}", headers=agent).json()["name"] == "Ana Lima"
    assert app_client.get(f"/api/v1/contacts/{cid}", headers=analyst).status_code == 403
    assert app_client.patch(f"/api/v1/contacts/{cid}", headers=agent, json={"name": "x"}).status_code == 403
    patched = app_client.patch(
        f"/api/v1/contacts/{cid}",
        headers=marketer,
        json={"timezone": "America/Sao_Paulo", "attributes": {"plan": None}},
    )
    assert patched.status_code == 200
    assert (patched.json()["timezone"], patched.json()["attributes"]) == ("America/Sao_Paulo", {})
    assert (
        app_client.patch(
            f"/api/v1/contacts/{cid}", headers=marketer, json={"timezone": "Mars/Olympus"}
        ).status_code
        == 422
    )

    found = app_client.get("/api/v1/contacts", headers=agent, params={"phone": "+33 6 12 34 56 78"}).json()
    assert [c["id"] for c in found["items"]] == [cid]
    assert app_client.get("/api/v1/contacts", headers=agent, params={"tag": "nope"}).json()["items"] == []
    with db.session_scope() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        diffs = " ".join(str(a.diff) for a in session.scalars(select(AuditEntry)))
    assert {"contact_attribute.define", "contact.create", "contact.opt_in", "contact.update"} <= set(actions)
    assert "Ana" not in diffs and "612345678" not in diffs  # personal data is redacted from the audit


def test_lists_merge_and_paging(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    ids = [
        app_client.post("/api/v1/contacts", headers=marketer, json={"phone": f"+3361234567{i}"}).json()["id"]
        for i in range(3)
    ]
    shoes = app_client.post("/api/v1/contacts/lists", headers=marketer, json={"name": "Shoes"}).json()
    members = app_client.post(
        f"/api/v1/contacts/lists/{shoes['id']}/members", headers=marketer, json={"contact_ids": ids[:2]}
    )
    assert members.json()["size"] == 2
    listed = app_client.get("/api/v1/contacts", headers=marketer, params={"list_id": shoes["id"]}).json()
    assert [c["id"] for c in listed["items"]] == ids[:2]
    page = app_client.get("/api/v1/contacts", headers=marketer, params={"limit": 2}).json()
    assert page["next_after_id"] == ids[1]
    rest = app_client.get("/api/v1/contacts", headers=marketer, params={"after_id": ids[1]}).json()
    assert [c["id"] for c in rest["items"]] == [ids[2]] and rest["next_after_id"] is None

    merged = app_client.post(f"/api/v1/contacts/{ids[2]}/merge", headers=marketer, json={"source_id": ids[1]})
    assert merged.status_code == 200
    assert app_client.get(f"/api/v1/contacts/{ids[1]}", headers=marketer).status_code == 404
    listed = app_client.get("/api/v1/contacts", headers=marketer, params={"list_id": shoes["id"]}).json()
    assert [c["id"] for c in listed["items"]] == [ids[0], ids[2]]
    assert (
        app_client.delete(
            f"/api/v1/contacts/lists/{shoes['id']}/members/{ids[0]}", headers=marketer
        ).status_code
        == 204
    )


def test_consent_endpoints_suppressions_and_opt_out_link(app_client: TestClient) -> None:
    marketer, agent, admin = auth_headers("marketer"), auth_headers("agent"), auth_headers("admin")
    cid = app_client.post("/api/v1/contacts", headers=marketer, json={"phone": NUMBER}).json()["id"]
    pending = app_client.post(
        f"/api/v1/contacts/{cid}/consent",
        headers=marketer,
        json={"action": "opt_in", "source": "form", "double_opt_in": True},
    )
    assert pending.status_code == 201 and pending.json()["consent_status"] == "pending"
    with db.session_scope() as session:  # the confirmation request is texted on the transactional lane
        prompt = session.scalars(select(Message).where(Message.contact_id == cid)).one()
        assert (prompt.lane, prompt.status) == ("transactional", "queued") and "YES" in prompt.body
    _texted(cid)
    out = app_client.post(
        f"/api/v1/contacts/{cid}/consent",
        headers=agent,
        json={"action": "opt_out", "source": "api", "proof": "asked on the phone"},
    )
    history = out.json()["history"]
    assert [(h["action"], h["actor_type"]) for h in history] == [
        ("pending", "api_key"),
        ("opt_out", "api_key"),
    ]
    assert (
        app_client.post(
            f"/api/v1/contacts/{cid}/consent", headers=marketer, json={"action": "opt_out", "source": "mood"}
        ).status_code
        == 422
    )

    other = "+33612345699"
    added = app_client.post(
        "/api/v1/suppressions", headers=marketer, json={"phone": other, "reason": "complaint"}
    )
    assert added.status_code == 201
    listed = app_client.get("/api/v1/suppressions", headers=marketer).json()
    assert [s["reason"] for s in listed] == ["complaint"] and "phone" not in listed[0]
    assert app_client.delete(f"/api/v1/suppressions/{other}", headers=marketer).status_code == 403
    assert app_client.delete(f"/api/v1/suppressions/{other}", headers=admin).status_code == 204
    assert app_client.delete(f"/api/v1/suppressions/{other}", headers=admin).status_code == 404

    second = app_client.post("/api/v1/contacts", headers=marketer, json={"phone": other}).json()["id"]
    link = app_client.get(f"/api/v1/contacts/{second}/opt-out-link", headers=marketer).json()["url"]
    path = "/" + link.split("/", 3)[3]
    assert app_client.get(path.replace(f"/{second}-", f"/{cid}-")).status_code == 404  # forged
    page = app_client.get(path)
    assert page.status_code == 200 and "<form" in page.text
    assert app_client.get(f"/api/v1/contacts/{second}", headers=marketer).json()["opted_out"] is False
    assert app_client.post(path).status_code == 200
    _texted(second)
    consent = app_client.get(f"/api/v1/contacts/{second}/consent", headers=agent).json()
    assert consent["opted_out"] is True and consent["history"][-1]["source"] == "link"


def test_sync_routes_refuse_until_configured(app_client: TestClient) -> None:
    # the webhook feed is public but signed: with no secret configured nothing gets in
    unsigned = app_client.post("/api/v1/contacts/sync/webhook", content=b'{"contacts": []}')
    assert unsigned.status_code == 401
    admin = auth_headers("admin")
    assert app_client.post("/api/v1/contacts/sync/hubspot", headers=admin).status_code == 422
    assert app_client.post("/api/v1/contacts/sync/csv", headers=admin).status_code == 422
    assert (
        app_client.post("/api/v1/contacts/sync/hubspot", headers=auth_headers("marketer")).status_code == 403
    )


def test_a_double_opt_in_for_a_contact_who_said_stop_is_refused(app_client: TestClient) -> None:
    """It answered 201 and moved them to pending (the confirmation request, queued, was never sent): a marketer's
    call took a contact who said STOP back toward marketing. Now 409, nothing recorded, nothing queued."""
    marketer = auth_headers("marketer")
    cid = app_client.post("/api/v1/contacts", headers=marketer, json={"phone": NUMBER}).json()["id"]
    stop = {"action": "opt_out", "source": "keyword", "proof": "STOP"}
    assert app_client.post(f"/api/v1/contacts/{cid}/consent", headers=marketer, json=stop).status_code == 201
    again = app_client.post(f"/api/v1/contacts/{cid}/consent", headers=marketer,
                            json={"action": "opt_in", "source": "form", "proof": "web form", "double_opt_in": True})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "double_opt_in"
    state = app_client.get(f"/api/v1/contacts/{cid}/consent", headers=marketer).json()
    assert (state["consent_status"], state["opted_out"]) == ("opted_out", True)
    assert [h["action"] for h in state["history"]] == ["opt_out"]
    with db.session_scope() as session:
        assert session.scalars(select(Message).where(Message.contact_id == cid)).all() == []
