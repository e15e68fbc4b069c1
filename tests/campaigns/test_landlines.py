"""Numbers that cannot receive texts (a landline, a toll-free number…) are never texted, on any lane.

The importer used to warn "a landline: it cannot receive SMS" and store the contact like any other, and
campaigns and ``POST /api/v1/messages`` then texted it. The line type is now stored with the contact and
the one authority (``contacts.consent.consent_verdicts``) answers ``invalid_number`` for it.
"""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import flows, tasks
from contacts import import_jobs, service
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions
from contacts.models import Contact
from conversations.models import Message
from core import db
from core.audit import Actor
from core.db import utcnow
from core.settings import Settings
from delivery.authority import may_send
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers, run_jobs

LANDLINE, MOBILE = "+33142720000", "+33612345678"
BODY = "Spring sale: -20% this weekend"
ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}


def _import(data: str) -> int:
    with db.session_scope() as session:
        job = import_jobs.start(session, io.BytesIO(data.encode()), filename="people.csv",
                                options=ImportOptions(region="FR"), limits=FileLimits(),
                                actor=Actor(type="user", id="7", name="marketer@example.com"))
        import_id = job.id
    run_jobs()
    return import_id


def test_an_imported_landline_is_imported_counted_and_never_texted(app_client: TestClient) -> None:
    import_id = _import("phone;first name;consent\n01 42 72 00 00;Hôtel;yes\n06 12 34 56 78;Zoé;yes\n")
    with db.session_scope() as session:
        job = import_jobs.get(session, import_id)
        assert (job.status, job.created) == ("succeeded", 2)
        [warning] = import_jobs.problems(session, import_id, errors=False)
        assert (warning.row, warning.code) == (2, "landline")
        assert "imported but will not be texted" in warning.message
        landline = service.find_by_phone(session, LANDLINE)
        mobile = service.find_by_phone(session, MOBILE)
        assert landline is not None and mobile is not None
        assert (landline.line_type, mobile.line_type) == ("fixed_line", "mobile")
        assert landline.consent_status == mobile.consent_status == "opted_in"
        landline_id, mobile_id = landline.id, mobile.id

    headers = auth_headers("marketer")
    page = app_client.get(f"/console/contacts/{landline_id}", headers={"Accept": "text/html", **headers})
    found = re.search(r'<dl class="facts" id="contact-facts">(.*?)</dl>', page.text, re.S)
    assert found is not None
    facts = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    assert "The number is a landline: it cannot receive texts, replies included" in facts
    assert app_client.get(f"/api/v1/contacts/{landline_id}", headers=headers).json()["line_type"] == "fixed_line"
    preview = app_client.post("/api/v1/templates/preview", headers=headers, json={"body": BODY, "segment": {}})
    assert preview.status_code == 200, preview.text
    assert (preview.json()["recipients"], preview.json()["sendable"]) == (2, 1)
    assert preview.json()["excluded"] == {"invalid_number": 1}

    template = app_client.post("/api/v1/templates", headers=headers, json={"name": "sale", "language": "en",
                                                                            "body": BODY})
    created = app_client.post("/api/v1/campaigns", headers=headers,
                              json={"name": "spring", "template_id": template.json()["id"], **ALL_DAY})
    campaign_id = int(created.json()["id"])
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={}).status_code == 200
    tasks.prepare_campaign(campaign_id)
    run_jobs()
    with db.session_scope() as session:
        texted = list(session.scalars(select(Message.contact_id).where(Message.campaign_id == campaign_id)))
    assert texted == [mobile_id]
    report = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=headers).json()
    assert report["skipped"] == {"invalid_number": 1}


def test_a_transactional_text_to_a_landline_is_refused_in_words(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    refused = app_client.post("/api/v1/messages", json={"to": "01 42 72 00 00", "body": "Your code: 1234"},
                              headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"field": "to", "reason": "invalid_number"}]
    assert "the number is a landline or cannot receive texts" in refused.json()["detail"]
    sent = app_client.post("/api/v1/messages", json={"to": "06 12 34 56 78", "body": "Your code: 1234"},
                           headers=headers)
    assert sent.status_code == 202, sent.text


def test_a_number_found_to_be_a_landline_after_preparation_is_refused_at_claim(runtime_any_db: Settings) -> None:
    now = utcnow()
    with db.session_scope() as session:
        keep, change = create_contact(session, 1), create_contact(session, 2)
        campaign = create_campaign(session, create_template(session))
        ids, campaign_id = (keep.id, change.id), campaign.id
        flows.start_run(session, campaign, now=now)
    assert tasks.prepare_campaign(campaign_id, now=now) == 2
    with db.session_scope() as session:
        rows = list(session.scalars(select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)))
        assert sorted(row.contact_id for row in rows) == sorted(ids)
        session.get_one(Contact, ids[1]).line_type = "fixed_line"
        session.flush()
        decided = may_send(session, rows, now=now)
        verdicts = {row.contact_id: decided[row.id] for row in rows}
    assert verdicts[ids[0]].action == "go"
    refused = verdicts[ids[1]]
    assert (refused.action, refused.code, refused.detail) == (
        "reject", "invalid_number", "the number is a landline or cannot receive texts")
