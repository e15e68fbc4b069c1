"""HubSpot under load: 429s and 5xx from a real loopback server (tests/contacts/fake_hubspot.py), spoken to by the
real ``hubspot-api-client``; the CSV-by-URL download the same way; waits go to a recorded sleep (core.retry), none
is real."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.console.audit_words import readable
from contacts import consent, service
from contacts.crm import csv_sync, hubspot, hubspot_push, hubspot_run
from contacts.importer import ImportOptions
from contacts.models import Contact, SyncCursor
from core import db
from core.models import AuditEntry
from core.redis import get_redis
from core.retry import RetryPolicy
from core.settings import Settings, get_settings
from tests.contacts import fake_hubspot
from tests.contacts.helpers import phone
from tests.core.trickling_server import trickling
from tests.helpers import auth_headers


def people(n: int) -> dict[str, dict[str, str]]:
    return {str(100 + i): {"mobilephone": phone(i), "firstname": f"P{i}", "sms_consent": "opted_in"}
            for i in range(1, n + 1)}


def waits() -> tuple[RetryPolicy, list[float]]:
    """The sync's policy with its sleep recorded, and the jitter fixed at half the backoff."""
    slept: list[float] = []
    return RetryPolicy(attempts=4, base=1.0, max_delay=30.0, sleep=slept.append, random=lambda: 0.5), slept


def config(fake: fake_hubspot.FakeHubSpot) -> hubspot.HubSpotConfig:
    return hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")


def contacts_count() -> int:
    with db.session_scope() as session:
        return len(session.scalars(select(Contact.id)).all())


def test_a_429_and_a_503_are_waited_out_as_hubspot_asks(outbound_to_loopback: None, runtime: Settings) -> None:
    """A 429 with Retry-After: 2 waited 2 s (not the 0.5 s backoff), a 503 without one the backoff; the pull then
    reads every page and says it retried. It raised CrmUnavailable('HubSpot answered 429') at the first 429."""
    policy, slept = waits()
    with fake_hubspot.running(people(5)) as fake:
        fake.refusals = [(429, {"Retry-After": "2"}), (503, {})]
        with db.session_scope() as session:
            result = hubspot.pull_contacts(session, config(fake), policy=policy)
    assert (result.seen, result.created, result.status) == (5, 5, "complete")
    assert slept == [2.0, 1.0]  # Retry-After; then 2 ** 1 * 0.5
    assert result.as_dict()["retries"] == 2
    assert (result.calls.rate_limited, result.calls.waited_seconds) == (1, 3.0)


def test_a_longer_retry_after_than_the_cap_ends_the_run_at_once(outbound_to_loopback: None,
                                                                  runtime: Settings) -> None:
    """Retry-After: 3600 is not hammered every 30 s: one request, no wait, the error says how long was asked."""
    policy, slept = waits()
    with fake_hubspot.running(people(3)) as fake:
        fake.refusals = [(429, {"Retry-After": "3600"})]
        with pytest.raises(hubspot.SyncInterrupted, match=r"rate limit did not lift.*asked to wait 3600 s"), \
                db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
        assert slept == [] and len(fake.requests) == 1


def test_a_refusal_other_than_429_is_not_retried_and_names_the_call(outbound_to_loopback: None,
                                                                     runtime: Settings) -> None:
    policy, slept = waits()
    with fake_hubspot.running(people(3)) as fake:
        fake.refusals = [(404, {})]
        with pytest.raises(hubspot.SyncInterrupted, match=r"GET contacts page: answered 404 .*not retried"), \
                db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
        assert slept == [] and len(fake.requests) == 1


def test_an_interrupted_pull_resumes_at_its_page_reading_nothing_twice(outbound_to_loopback: None,
                                                                       runtime_any_db: Settings) -> None:
    """HubSpot's limit used up after two pages and not lifting: the four contacts read are kept (they were rolled
    back with the error), the next pull starts at the third page, and the one after it asks only for contacts
    modified since (none: one search request)."""
    policy, slept = waits()
    with fake_hubspot.running(people(7)) as fake:
        fake.limit = 2  # pages of 2: 101-102, 103-104, then 429 with Retry-After: 1 for good
        with pytest.raises(hubspot.SyncInterrupted) as caught, db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
        error = str(caught.value)
        assert "rate limit did not lift" in error and "after 4 attempts" in error, error
        assert "Kept: 4 contacts read in this run; the next sync resumes the pull at page after 105" in error, error
        assert slept == [1.0, 1.0, 2.0] and caught.value.result.status == "interrupted"
        assert contacts_count() == 4
        fake.limit, fake.requests[:] = None, []
        with db.session_scope() as session:
            resumed = hubspot.pull_contacts(session, config(fake), policy=policy)
        assert (resumed.resumed_from, resumed.seen, resumed.created, resumed.updated) == ("105", 3, 3, 0)
        assert [r.split("after=")[1].split("&")[0] for r in fake.requests if "after=" in r] == ["105", "107"]
        assert len(fake.requests) == 2 and contacts_count() == 7
        with db.session_scope() as session:
            cursor = session.get(SyncCursor, hubspot.PULL_CURSOR)
            assert cursor is not None and cursor.value == ""
            fake.requests[:] = []
            again = hubspot.pull_contacts(session, config(fake), policy=policy)
        assert (again.resumed_from, again.seen, again.updated) == (None, 0, 0)
        assert fake.requests == [f"POST {fake_hubspot.PATH}/search"]


def test_an_interrupted_push_resumes_writing_nothing_twice(outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch,
                                                             runtime_any_db: Settings) -> None:
    """Five STOPs to write in batches of two, HubSpot's limit used up after the first: the two written stay written
    (the cursor was rolled back with the error, so every run wrote the same first ones again and never got
    further)."""
    policy, _ = waits()
    monkeypatch.setattr(hubspot_push, "BATCH_SIZE", 2)
    with fake_hubspot.running(people(5)) as fake:
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
            for i in range(1, 6):
                contact = service.find_by_phone(session, phone(i))
                assert contact is not None
                consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        fake.limit = fake.answered + 1
        with pytest.raises(hubspot.SyncInterrupted, match=r"Kept: 2 consent changes written in this run; the next "
                                                          r"sync resumes the push at contact 103"), \
                db.session_scope() as session:
            hubspot_push.push_opt_outs(session, config(fake), policy=policy)
        assert [c for c, _ in fake.updates] == ["101", "102"]
        fake.limit = None
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake), policy=policy) == 3
        assert [c for c, _ in fake.updates] == ["101", "102", "103", "104", "105"]
        assert fake.batches == [["101", "102"], ["103", "104"], ["105"]]  # two contacts a request


def test_the_admin_reads_what_the_sync_met(outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch,
                                          runtime: Settings) -> None:
    """Through the API: an interrupted sync answers 502 saying why and where it resumes, its audit entry says
    interrupted with the retries; the next one says it resumed, and what it retried."""
    policy, _ = waits()
    monkeypatch.setattr(hubspot, "POLICY", policy)
    with fake_hubspot.running(people(5)) as fake:
        monkeypatch.setenv("RELAIS_HUBSPOT_ACCESS_TOKEN", fake_hubspot.TOKEN)
        monkeypatch.setenv("RELAIS_HUBSPOT_HOST", fake.url)
        monkeypatch.setenv("RELAIS_DEFAULT_REGION", "FR")
        get_settings.cache_clear()
        from api.app import create_app

        with TestClient(create_app(get_settings())) as client:
            admin = auth_headers("admin")
            fake.limit = 1
            stopped = client.post("/api/v1/contacts/sync/hubspot", headers=admin)
            assert stopped.status_code == 502, stopped.text
            detail = stopped.json()["detail"]
            assert "HubSpot sync interrupted: HubSpot's rate limit did not lift" in detail
            assert "resumes the pull at page after 103" in detail
            fake.limit = None
            fake.refusals = [(429, {"Retry-After": "1"})]
            done = client.post("/api/v1/contacts/sync/hubspot", headers=admin)
            assert done.status_code == 200, done.text
            body = done.json()
            assert (body["status"], body["resumed_from"], body["seen"], body["retries"], body["rate_limited"]) == (
                "complete", "103", 3, 1, 1)
    with db.session_scope() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "contacts.sync.hubspot")
                                  .order_by(AuditEntry.id)).all()
        diffs = [entry.diff for entry in entries]
        session.expunge_all()
    assert [(d["status"], d["seen"], d["retries"]) for d in diffs] == [("interrupted", 2, 3), ("complete", 3, 1)]
    assert "rate limit did not lift" in diffs[0]["error"] and "error" not in diffs[1]
    assert "resumed_from" not in diffs[0] and diffs[1]["resumed_from"] == "103"
    with db.session_scope() as session:
        shown = readable(session, entries)
    assert [entry.what for entry in shown] == ["Synchronised contacts with HubSpot"] * 2
    assert "status: interrupted" in shown[0].changes and "resumed from: 103" in shown[1].changes
    assert contacts_count() == 5


@contextmanager
def csv_host(answers: list[tuple[int, dict[str, str]]], body: bytes) -> Iterator[tuple[str, list[str]]]:
    """A file host on loopback giving ``answers`` first (status, headers), one per request, then ``body``."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, headers = answers.pop(0) if answers else (200, {})
            seen.append(str(status))
            data = body if status == 200 else b"busy"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/export/contacts.csv?token=s3cret", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_csv_download_waits_out_a_busy_host(outbound_to_loopback: None, runtime: Settings) -> None:
    """A 503 with Retry-After: 3, then a 429 with an HTTP date, then the file: imported. It failed at the 503."""
    policy, slept = waits()
    file = f"phone,name\n{phone(1)},One\n{phone(2)},Two\n".encode()
    with csv_host([(503, {"Retry-After": "3"}), (429, {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"})],
                  file) as (url, seen), db.session_scope() as session:
        report = csv_sync.sync_from_url(session, url, ImportOptions(), policy=policy)
    assert (report.created, seen, slept) == (2, ["503", "429", "200"], [3.0, 1.0])  # a date passed: the backoff


def test_the_csv_download_names_the_call_without_its_token(outbound_to_loopback: None, runtime: Settings) -> None:
    policy, slept = waits()
    with csv_host([(404, {})], b"") as (url, seen), \
            pytest.raises(hubspot.CrmUnavailable, match=r"CSV sync source GET http://127.0.0.1:\d+/export/contacts"
                                                        r".csv: answered HTTP 404 \(not retried") as caught, \
            db.session_scope() as session:
        csv_sync.sync_from_url(session, url, ImportOptions(), policy=policy)
    assert seen == ["404"] and slept == [] and "s3cret" not in str(caught.value)
    with csv_host([(502, {})] * 4, b"") as (url, seen), \
            pytest.raises(hubspot.CrmUnavailable, match=r"answered HTTP 502 after 4 attempts"), \
            db.session_scope() as session:
        csv_sync.sync_from_url(session, url, ImportOptions(), policy=policy)
    assert seen == ["502"] * 4 and slept == [0.5, 1.0, 2.0]


def test_the_periodic_job_keeps_what_an_interrupted_sync_did_and_fails_saying_why(
        outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch, runtime: Settings) -> None:
    """The 15-minute job: an interrupted sync's contacts and cursor are committed and the job fails with the reason
    (the failed-jobs page shows it); the next run resumes and says so in its result."""
    from contacts import tasks

    policy, _ = waits()
    monkeypatch.setattr(hubspot, "POLICY", policy)
    with fake_hubspot.running(people(5)) as fake:
        monkeypatch.setenv("RELAIS_HUBSPOT_ACCESS_TOKEN", fake_hubspot.TOKEN)
        monkeypatch.setenv("RELAIS_HUBSPOT_HOST", fake.url)
        monkeypatch.setenv("RELAIS_DEFAULT_REGION", "FR")
        get_settings.cache_clear()
        fake.limit = 2
        with pytest.raises(hubspot.SyncInterrupted, match="resumes the pull at page after 105"):
            tasks.sync_crm()
        assert contacts_count() == 4
        fake.limit = None
        done = tasks.sync_crm()
    assert "'status': 'complete'" in done and "'resumed_from': '105'" in done and "'seen': 1" in done, done
    assert contacts_count() == 5


def test_a_contact_deleted_in_hubspot_does_not_stop_the_push(outbound_to_loopback: None, runtime: Settings) -> None:
    """A contact deleted (or merged) in HubSpot answers 404 to its PATCH: the push stopped there, and every run
    after it, so no consent change behind it ever reached HubSpot. Now it is reported and passed."""
    policy, slept = waits()
    with fake_hubspot.running(people(3)) as fake:
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
            for i in range(1, 4):
                contact = service.find_by_phone(session, phone(i))
                assert contact is not None
                consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        del fake.contacts["102"]
        result = hubspot.SyncResult()
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake), policy=policy, result=result) == 2
        assert [c for c, _ in fake.updates] == ["101", "103"] and slept == []
        assert result.invalid == [{"hubspot_id": "102", "message": "not in HubSpot (deleted or merged there): its "
                                                                   "consent was not written"}]
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake), policy=policy) == 0


class Stopped(BaseException):
    """A worker stopped mid-job (a deploy's SIGTERM, the job's timeout), landing in the middle of a wait."""


def test_a_worker_stopped_mid_sync_keeps_what_it_committed(outbound_to_loopback: None,
                                                            monkeypatch: pytest.MonkeyPatch, runtime: Settings) -> None:
    """The periodic job commits after each page and each batch of writes (BATCH_SIZE): a worker stopped while
    waiting out a 429 keeps the pages and writes done, and the next run reads and writes only the rest. The
    whole run was one transaction, so a stop lost it all and the next run did it again."""
    from contacts import tasks

    def stop(_: float) -> None:
        raise Stopped

    monkeypatch.setattr(hubspot, "POLICY", RetryPolicy(attempts=4, sleep=stop))
    monkeypatch.setattr(hubspot_push, "BATCH_SIZE", 2)
    with fake_hubspot.running(people(5)) as fake:
        monkeypatch.setenv("RELAIS_HUBSPOT_ACCESS_TOKEN", fake_hubspot.TOKEN)
        monkeypatch.setenv("RELAIS_HUBSPOT_HOST", fake.url)
        monkeypatch.setenv("RELAIS_DEFAULT_REGION", "FR")
        get_settings.cache_clear()
        fake.limit = 2  # pages 101-102 and 103-104 answered, then a 429: the worker stops in the wait
        with pytest.raises(Stopped):
            tasks.sync_crm()
        assert contacts_count() == 4
        fake.limit = None
        tasks.sync_crm()  # reads page 105 only, then nothing to push
        assert contacts_count() == 5
        assert [r for r in fake.requests if r.startswith("GET")][-1].count("after=105") == 1
        with db.session_scope() as session:
            for i in range(1, 6):
                contact = service.find_by_phone(session, phone(i))
                assert contact is not None
                consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        fake.limit = fake.answered + 1 + 1  # a pull of what changed (one search), one batch, then a 429: stopped
        with pytest.raises(Stopped):
            tasks.sync_crm()
        assert [c for c, _ in fake.updates] == ["101", "102"]
        fake.limit = None
        tasks.sync_crm()
        assert [c for c, _ in fake.updates] == ["101", "102", "103", "104", "105"]  # none written twice


def test_one_sync_at_a_time(outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch, runtime: Settings) -> None:
    """An admin's sync started during the periodic one (a 30,000-contact push outlasts 15 minutes) read the same
    cursors and wrote the same consents again. A second sync is now refused (409; the job skips, saying so), and
    the mark goes with the sync that held it."""
    from contacts import tasks

    redis = get_redis(runtime)
    with fake_hubspot.running(people(2)) as fake:
        redis.set(hubspot_run.RUNNING_KEY, "another sync")
        with pytest.raises(hubspot_run.SyncRunning, match="already running"), db.session_scope() as session:
            hubspot_run.sync(session, config(fake), redis=redis)
        monkeypatch.setenv("RELAIS_HUBSPOT_ACCESS_TOKEN", fake_hubspot.TOKEN)
        monkeypatch.setenv("RELAIS_HUBSPOT_HOST", fake.url)
        get_settings.cache_clear()
        assert tasks.sync_crm() == "hubspot skipped: a sync is already running"
        assert fake.requests == [] and redis.get(hubspot_run.RUNNING_KEY) == b"another sync"
        redis.delete(hubspot_run.RUNNING_KEY)
        with db.session_scope() as session:
            assert hubspot_run.sync(session, config(fake), redis=redis).seen == 2
        assert redis.get(hubspot_run.RUNNING_KEY) is None


def test_a_csv_host_trickling_the_file_is_cut_off_at_the_deadline(outbound_to_loopback: None,
                                                                   runtime: Settings) -> None:
    """A byte every 0.2 s never let the 60 s per-read timeout expire: the sync (a worker, or an admin's request)
    was held for as long as the host liked. The download ends at its deadline, retries included."""
    policy, _ = waits()
    file = f"phone,name\n{phone(1)},One\n".encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(file), file)
    start = time.monotonic()
    with trickling(answer, head=30) as url, db.session_scope() as session, \
            pytest.raises(hubspot.CrmUnavailable, match=r"unreachable: no complete answer within 2 s \(the "
                                                        r"deadline for the whole request\) after 4 attempts"):
        csv_sync.sync_from_url(session, url, ImportOptions(), deadline=2, policy=policy)
    assert time.monotonic() - start < 3.5 and contacts_count() == 0


def test_hubspot_answers_are_never_followed_elsewhere(outbound_to_loopback: None, runtime: Settings) -> None:
    """The SDK opens its own connections (not ``core.outbound_http``'s pinned ones): what keeps it off internal
    addresses is that its host is the operator's setting, checked before each sync, and that it follows no redirect
    (urllib3's retries are off: ``make_client``). A 302 to the metadata service ends the sync, unfollowed."""
    policy, _ = waits()
    with csv_host([(302, {"Location": "http://169.254.169.254/latest/meta-data/"})], b"{}") as (url, seen), \
            pytest.raises(hubspot.SyncInterrupted, match="302"), db.session_scope() as session:
        host = url.split("/export/", 1)[0]
        hubspot.pull_contacts(session, hubspot.HubSpotConfig(access_token="t", host=host), policy=policy)
    assert seen == ["302"]  # one request: the redirect was not followed, nor asked again
