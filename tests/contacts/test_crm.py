"""CRM sync: HubSpot through hubspot-api-client against a loopback fake, signed webhooks, CSV by URL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from contacts import consent, service
from contacts.crm import csv_sync, hubspot, hubspot_push, webhook_sync
from contacts.importer import ImportOptions
from contacts.models import ConsentEvent
from core import db, webhooks
from core.errors import Conflict, Unauthorized, ValidationFailed
from core.outbound_http import OutboundBlocked
from core.redis import get_redis
from core.retry import RetryPolicy
from core.settings import Settings
from tests.contacts import fake_hubspot
from tests.contacts.helpers import create_contact, phone


def test_hubspot_pull_then_push_opt_outs(outbound_to_loopback: None, runtime_any_db: Settings) -> None:
    people = {
        "101": {
            "mobilephone": "+33612345678",
            "firstname": "Ana",
            "lastname": "Lima",
            "hs_language": "pt-br",
            "sms_consent": "opted_in",
        },
        "102": {"phone": "06 12 34 56 79", "firstname": "Luc", "sms_consent": "opted_out"},
        "103": {"mobilephone": "not a phone", "firstname": "Bad"},
        "104": {"mobilephone": phone(4), "firstname": "Stale", "sms_consent": "opted_in"},
    }
    with db.session_scope() as session:  # person 104 texted STOP to Relais: HubSpot's opt-in is stale
        stopped = create_contact(session, 4)
        consent.record_opt_out(session, contact=stopped, source="keyword", proof="STOP")
    with fake_hubspot.running(people) as fake:
        config = hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")
        with db.session_scope() as session:
            result = hubspot.pull_contacts(session, config)
        assert (result.seen, result.created, result.updated) == (4, 2, 1)
        assert [i["hubspot_id"] for i in result.invalid] == ["103"]
        assert len([r for r in fake.requests if r.startswith("GET")]) == 2  # paged
        with db.session_scope() as session:
            ana = service.find_by_phone(session, "+33612345678")
            luc = service.find_by_phone(session, "+33612345679")
            stale = service.find_by_phone(session, phone(4))
            assert ana and luc and stale
            assert (ana.name, ana.first_name, ana.language, ana.external_ids) == (
                "Ana Lima",
                "Ana",
                "pt",
                {"hubspot": "101"},
            )
            assert ana.consent_status == "opted_in" and luc.opted_out
            assert stale.opted_out  # a local STOP wins over a CRM opt-in
            consent.record_opt_out(session, contact=ana, source="keyword", proof="STOP")
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config) == 2  # Ana now, and the earlier STOP of 104
        assert sorted(fake.updates) == [
            ("101", {"sms_consent": "opted_out"}),
            ("104", {"sms_consent": "opted_out"}),
        ]
        with db.session_scope() as session:  # the cursor moved: nothing is pushed twice
            assert hubspot_push.push_opt_outs(session, config) == 0


def test_a_hubspot_no_is_no_marketing_consent_as_in_an_imported_file(outbound_to_loopback: None,
                                                                     runtime: Settings) -> None:
    """A "no" (false, non…) in the HubSpot consent property recorded a STOP, where the same word in an imported
    file's consent column is no marketing consent (service texts and replies still go): each word below records
    the same consent both ways, and the value Relais pushes for a STOP reads back as one."""
    words = ["no", "false", "Non", "0", "unsubscribed", "stop", "yes", "subscribed", "pending"]
    people = {str(200 + i): {"mobilephone": phone(10 + i), "sms_consent": word} for i, word in enumerate(words)}
    people["300"] = {"mobilephone": phone(1), "sms_consent": "no"}  # opted in earlier: the no withdraws it
    people["301"] = {"mobilephone": phone(2), "sms_consent": hubspot.OPTED_OUT}
    with db.session_scope() as session:
        consent.record_opt_in(session, contact=create_contact(session, 1), source="form", proof="web form")
    with fake_hubspot.running(people) as fake, db.session_scope() as session:
        config = hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")
        result = hubspot.pull_contacts(session, config)
    assert (result.opted_out, result.declined) == (3, 5)  # unsubscribed, stop, 301 / no, false, Non, 0, 300
    rows = "".join(f"{phone(40 + i)},{word}\n" for i, word in enumerate(words))
    with _serving(f"phone,consent\n{rows}".encode()) as url, db.session_scope() as session:
        csv_sync.sync_from_url(session, url, ImportOptions())
    with db.session_scope() as session:
        def state(n: int) -> tuple[str, bool]:
            contact = service.find_by_phone(session, phone(n))
            assert contact is not None
            return contact.consent_status, contact.opted_out

        from_crm = {word: state(10 + i) for i, word in enumerate(words)}
        assert from_crm == {word: state(40 + i) for i, word in enumerate(words)}
        assert from_crm["no"] == from_crm["false"] == ("opted_out", False)  # declined, not a STOP
        assert from_crm["unsubscribed"] == from_crm["stop"] == ("opted_out", True)
        assert from_crm["subscribed"] == ("opted_in", False) and from_crm["pending"] == ("none", False)
        assert state(1) == ("opted_out", False) and state(2) == ("opted_out", True)
        withdrawn = service.find_by_phone(session, phone(1))
        assert withdrawn is not None
        last = session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == withdrawn.id)
                               .order_by(ConsentEvent.id.desc())).first()
        assert last is not None and (last.action, last.source) == ("declined", "crm")


def test_hubspot_push_writes_declined_marketing_back_and_a_pull_reads_it_as_it_was(outbound_to_loopback: None,
                                                                                    runtime: Settings) -> None:
    """The push wrote only STOPs: a "no" given in Relais stayed "opted_in" in HubSpot, and the next pull opted
    the person back in. Now each consent change made in Relais is written as the contact's consent (declined,
    a STOP, an opt-in after either), the pull that runs before the push leaves such a contact as Relais has it,
    and push then pull leaves the ledger as it was; a change made in HubSpot afterwards still comes in."""
    people = {str(400 + n): {"mobilephone": phone(n), "sms_consent": "opted_in"} for n in (1, 2, 3)}
    people["404"] = {"mobilephone": phone(4), "sms_consent": "no"}
    with fake_hubspot.running(people) as fake:
        config = hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config)
        rows = f"{phone(1)},non\n{phone(3)},no\n"  # a "no" in an imported file: declined, no STOP
        with _serving(f"phone,consent\n{rows}".encode()) as url, db.session_scope() as session:
            csv_sync.sync_from_url(session, url, ImportOptions())
        with db.session_scope() as session:
            two, three, four = (service.find_by_phone(session, phone(n)) for n in (2, 3, 4))
            assert two and three and four
            consent.record_opt_out(session, contact=two, source="keyword", proof="STOP")
            consent.record_opt_in(session, contact=three, source="form", proof="web form")  # the no undone
            consent.record_opt_in(session, contact=four, source="form", proof="web form")  # HubSpot's no, undone

        def ledger() -> dict[int, tuple[str, bool, int]]:
            with db.session_scope() as session:
                found = {n: service.find_by_phone(session, phone(n)) for n in (1, 2, 3, 4)}
                return {n: (c.consent_status, c.opted_out, len(consent.history(session, c)))
                        for n, c in found.items() if c}

        before = ledger()
        assert {n: state[:2] for n, state in before.items()} == {
            1: ("opted_out", False), 2: ("opted_out", True), 3: ("opted_in", False), 4: ("opted_in", False)}
        with db.session_scope() as session:  # the route's order: HubSpot's values are the older ones
            hubspot.pull_contacts(session, config)
        assert ledger() == before
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config) == 4
        assert dict(fake.updates) == {"401": {"sms_consent": "declined"}, "402": {"sms_consent": "opted_out"},
                                      "403": {"sms_consent": "opted_in"}, "404": {"sms_consent": "opted_in"}}
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config)
            assert hubspot_push.push_opt_outs(session, config) == 0
        assert ledger() == before  # push then pull: the same ledger, declined read back as declined, a STOP a STOP
        fake.edit("403", sms_consent="no")  # changed in HubSpot after the push
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config)
            assert hubspot_push.push_opt_outs(session, config) == 0  # not echoed
        with db.session_scope() as session:
            three = service.find_by_phone(session, phone(3))
            assert three is not None and (three.consent_status, three.opted_out) == ("opted_out", False)
            assert _last_event(session, three.id) == ("declined", "crm")
            two = service.find_by_phone(session, phone(2))
            assert two is not None
            consent.record_opt_in(session, contact=two, source="keyword", proof="START")  # after the pushed STOP
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config)  # HubSpot still says opted_out: the START stands
            assert hubspot_push.push_opt_outs(session, config) == 1
            hubspot.pull_contacts(session, config)
        assert fake.contacts["402"]["sms_consent"] == "opted_in"
        assert ledger()[2] == ("opted_in", False, before[2][2] + 1)


def test_a_consent_property_without_the_declined_option_is_named(outbound_to_loopback: None,
                                                                 runtime: Settings) -> None:
    """A property made when only STOPs were pushed (opted_in / opted_out) refuses ``declined``: the sync says
    which option to add, and nothing is pushed past it (the next run writes it once the option exists)."""
    people = {"501": {"mobilephone": phone(1), "sms_consent": "opted_in"}}
    with fake_hubspot.running(people, options=frozenset({"opted_in", "opted_out"})) as fake:
        config = hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config)
            declined = service.find_by_phone(session, phone(1))
            assert declined is not None
            consent.record_declined(session, contact=declined, source="import", proof="file")
        with pytest.raises(hubspot.CrmUnavailable, match=r"sms_consent=declined for contact 501 .*needs the options"), \
                db.session_scope() as session:
            hubspot_push.push_opt_outs(session, config)
        fake.options = None
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config) == 1
        assert fake.updates == [("501", {"sms_consent": "declined"})]


def test_hubspot_errors_are_reported(outbound_to_loopback: None, runtime: Settings) -> None:
    with fake_hubspot.running({}) as fake:
        config = hubspot.HubSpotConfig(access_token="wrong", host=fake.url)
        with pytest.raises(hubspot.CrmUnavailable, match="401"), db.session_scope() as session:
            hubspot.pull_contacts(session, config)


def _signed(secret: str, payload: dict[str, Any], ts: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, webhooks.sign(secret, body, ts)


def test_webhook_sync_signature_freshness_replay_and_apply(runtime: Settings) -> None:
    redis = get_redis(runtime)
    payload = {
        "contacts": [
            {"phone": phone(1), "name": "Ana", "tags": ["crm"], "consent": "opted_in", "external_id": "x1"}
        ]
    }
    body, header = _signed("s3cret", payload)
    with pytest.raises(Unauthorized):
        webhook_sync.verify_request(secret="other", header=header, body=body, redis=redis)
    with pytest.raises(Unauthorized):
        webhook_sync.verify_request(secret="s3cret", header=header, body=body + b" ", redis=redis)
    old_body, old_header = _signed("s3cret", payload, int(time.time()) - 3600)
    with pytest.raises(Unauthorized):
        webhook_sync.verify_request(secret="s3cret", header=old_header, body=old_body, redis=redis)
    webhook_sync.verify_request(secret="s3cret", header=header, body=body, redis=redis)
    with pytest.raises(Conflict):
        webhook_sync.verify_request(secret="s3cret", header=header, body=body, redis=redis)
    with db.session_scope() as session:
        assert webhook_sync.apply(session, body, region="FR") == {"created": 1, "updated": 0}
    with db.session_scope() as session:
        ana = service.find_by_phone(session, phone(1))
        assert ana and ana.tags == ["crm"] and ana.consent_status == "opted_in"
        assert ana.external_ids == {"webhook": "x1"}
    bad = json.dumps({"contacts": [{"phone": phone(2)}, {"phone": "123"}]}).encode()
    with pytest.raises(ValidationFailed) as caught, db.session_scope() as session:
        webhook_sync.apply(session, bad, region="FR")
    assert caught.value.errors[0]["field"] == "contacts[1]"
    with db.session_scope() as session:
        assert service.find_by_phone(session, phone(2)) is None  # all or nothing (rolled back)


def test_webhook_sync_replay_in_another_spelling_is_refused(runtime: Settings) -> None:
    """The header may repeat ``v1=`` (the last one is checked); the replay guard used to remember the
    first, so prefixing a fresh ``v1=junk`` replayed one captured request as often as wanted."""
    redis = get_redis(runtime)
    body, header = _signed("s3cret", {"contacts": [{"phone": phone(1), "consent": "opted_in"}]})
    webhook_sync.verify_request(secret="s3cret", header=header, body=body, redis=redis)
    t, real = header.split(",")
    for respelled in (f"{t},v1=junk1,{real}", f"{t},v1=junk2,{real}", f"{real},{t}", f"{t},x=1,{real}"):
        with pytest.raises(Conflict):
            webhook_sync.verify_request(secret="s3cret", header=respelled, body=body, redis=redis)


def _last_event(session: Any, contact_id: int) -> tuple[str, str]:
    last = session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)
                           .order_by(ConsentEvent.id.desc())).first()
    assert last is not None
    return last.action, last.source


def test_the_webhook_feed_says_declined_marketing_as_hubspot_and_an_import_do(outbound_to_loopback: None,
                                                                              runtime: Settings) -> None:
    """The signed feed knew only opted_in / opted_out (a STOP): a CRM could not say "no marketing" without
    stopping every text. ``declined`` records what a HubSpot "no" and an imported file's "no" record; the
    older values keep their meaning."""
    with db.session_scope() as session:
        consent.record_opt_in(session, contact=create_contact(session, 1), source="form", proof="web form")
    records = [
        {"phone": phone(1), "consent": "declined", "external_id": "w1"},  # opted in earlier: withdrawn, no STOP
        {"phone": phone(2), "consent": "declined"},
        {"phone": phone(3), "consent": "opted_out"},
        {"phone": phone(4), "consent": "opted_in"},
        {"phone": phone(5), "consent": None},
    ]
    with db.session_scope() as session:
        assert webhook_sync.apply(session, json.dumps({"contacts": records}).encode(), region="FR") == {
            "created": 4, "updated": 1}
    with fake_hubspot.running({"7": {"mobilephone": phone(7), "sms_consent": "no"}}) as fake, \
            db.session_scope() as session:
        hubspot.pull_contacts(session, hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url,
                                                             region="FR"))
    with _serving(f"phone,consent\n{phone(8)},non\n".encode()) as url, db.session_scope() as session:
        csv_sync.sync_from_url(session, url, ImportOptions())
    with db.session_scope() as session:
        def state(n: int) -> tuple[str, bool, tuple[str, str] | None]:
            contact = service.find_by_phone(session, phone(n))
            assert contact is not None
            last = _last_event(session, contact.id) if consent.history(session, contact) else None
            return contact.consent_status, contact.opted_out, last

        assert state(1) == state(2) == state(7) == ("opted_out", False, ("declined", "crm"))
        assert state(8) == ("opted_out", False, ("declined", "import"))  # the same consent, by a file
        assert state(3) == ("opted_out", True, ("opt_out", "crm"))
        assert state(4) == ("opted_in", False, ("opt_in", "crm"))
        assert state(5) == ("none", False, None)


def test_the_webhook_feed_refuses_a_consent_or_field_it_does_not_know(runtime: Settings) -> None:
    """A refused value is a 422 naming the field and the values it may take; nothing of the batch is applied."""
    settings = runtime.model_copy(update={"contact_sync_webhook_secret": "s3cret"})
    from fastapi.testclient import TestClient

    from api.app import create_app

    def post(payload: dict[str, Any]) -> Any:
        body, header = _signed("s3cret", payload)
        return client.post("/api/v1/contacts/sync/webhook", content=body, headers={"Relais-Signature": header})

    with TestClient(create_app(settings)) as client:
        answer = post({"contacts": [{"phone": phone(1), "consent": "declined"},
                                    {"phone": phone(2), "consent": "no"},
                                    {"phone": phone(3), "consent": "opted_in", "consnet": "x", "sms": 1}]})
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert [e["field"] for e in problem["errors"]] == ["contacts[1].consent", "contacts[2].consnet",
                                                           "contacts[2].sms"]
        assert "2 of 3 contacts are invalid" in problem["detail"] and "contacts[1].consent" in problem["detail"]
        allowed = problem["errors"][0]["message"]
        assert all(value in allowed for value in ('"no"', "opted_in", "declined", "opted_out", "null"))
        assert post({"contacts": [], "extra": True}).json()["errors"] == [
            {"field": "extra", "message": 'unknown field; the body is {"contacts": [...]}'}]
        assert post({"contacts": [{"phone": phone(4), "consent": "declined", "proof": "call centre"}]}).json() == {
            "created": 1, "updated": 0}
    with db.session_scope() as session:
        assert service.find_by_phone(session, phone(1)) is None  # all or nothing
        declined = service.find_by_phone(session, phone(4))
        assert declined is not None and (declined.consent_status, declined.opted_out) == ("opted_out", False)
        assert consent.history(session, declined)[-1].proof == "call centre"


def test_a_request_the_feed_refused_is_judged_again_when_sent_again(runtime: Settings) -> None:
    """The replay guard remembered a signed request before applying it: when the batch was refused (or failed), the
    sender's retry of the same request got 409 "already processed" although nothing was applied (a STOP recorded in
    the CRM lost on a retry after a 500). A request applied is still refused the second time."""
    settings = runtime.model_copy(update={"contact_sync_webhook_secret": "s3cret"})
    from fastapi.testclient import TestClient

    from api.app import create_app

    refused = _signed("s3cret", {"contacts": [{"phone": phone(1), "consent": "no"}]})
    applied = _signed("s3cret", {"contacts": [{"phone": phone(1), "consent": "opted_out"}]})
    with TestClient(create_app(settings)) as client:
        def post(signed: tuple[bytes, str]) -> int:
            return client.post("/api/v1/contacts/sync/webhook", content=signed[0],
                               headers={"Relais-Signature": signed[1]}).status_code

        assert [post(refused), post(refused)] == [422, 422]  # 422 then 409 before
        assert [post(applied), post(applied)] == [200, 409]
    with db.session_scope() as session:
        stopped = service.find_by_phone(session, phone(1))
        assert stopped is not None and stopped.opted_out


@contextmanager
def _serving(body: bytes, status: int = 200) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/export/contacts.csv"
    finally:
        server.shutdown()
        server.server_close()


def test_csv_sync_from_a_url(outbound_to_loopback: None, runtime: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, name="Old")
    with (
        _serving(f"phone,name\n{phone(1)},New\n{phone(2)},Two\n".encode()) as url,
        db.session_scope() as session,
    ):
        report = csv_sync.sync_from_url(session, url, ImportOptions(on_existing="skip"))
    assert (report.created, report.updated) == (1, 1)  # CSV sync always merges
    with (
        _serving(b"nope", status=500) as url,
        pytest.raises(hubspot.CrmUnavailable, match="500"),
        db.session_scope() as session,
    ):
        csv_sync.sync_from_url(session, url, ImportOptions(), policy=RetryPolicy(sleep=lambda _: None))


def test_sync_configuration_and_the_periodic_job(runtime: Settings) -> None:
    from contacts import tasks
    from contacts.crm import config

    assert config.hubspot_config(runtime) is None
    assert tasks.sync_crm() == "no CRM sync configured"
    assert [p.func for p in tasks.PERIODIC] == ["contacts.tasks.sync_crm"]
    configured = runtime.model_copy(
        update={"hubspot_access_token": "t", "hubspot_host": "http://127.0.0.1:1", "default_region": "BE"}
    )
    found = config.hubspot_config(configured)
    assert found is not None and (found.host, found.region, found.consent_property) == (
        "http://127.0.0.1:1",
        "BE",
        "sms_consent",
    )


def test_crm_urls_on_internal_addresses_are_refused(runtime: Settings) -> None:
    with (
        _serving(f"phone,name\n{phone(1)},New\n".encode()) as url,
        pytest.raises(OutboundBlocked, match="loopback"),
        db.session_scope() as session,
    ):
        csv_sync.sync_from_url(session, url, ImportOptions())
    config = hubspot.HubSpotConfig(access_token="t", host="http://169.254.169.254")
    with pytest.raises(OutboundBlocked, match="hubspot_host"), db.session_scope() as session:
        hubspot.pull_contacts(session, config)
