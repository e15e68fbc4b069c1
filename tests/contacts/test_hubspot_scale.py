"""HubSpot sync at a real account's size, against the loopback fake HubSpot (tests/contacts/fake_hubspot.py) spoken to
by the real ``hubspot-api-client``: consent pushed 100 contacts a request, pulls after the first asking only for
what changed (and walking past the search's 10,000-result cap), and no more requests per 10 s than configured."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from contacts import consent, service
from contacts.crm import config as crm_config
from contacts.crm import hubspot, hubspot_push
from contacts.models import ConsentEvent
from core import db
from core.pace import Pace
from core.settings import Settings, get_settings
from tests.contacts import fake_hubspot
from tests.contacts.helpers import phone


def people(n: int) -> dict[str, dict[str, str]]:
    return {str(1000 + i): {"mobilephone": phone(i), "firstname": f"P{i}", "sms_consent": "opted_in"}
            for i in range(1, n + 1)}


def config(fake: fake_hubspot.FakeHubSpot) -> hubspot.HubSpotConfig:
    return hubspot.HubSpotConfig(access_token=fake_hubspot.TOKEN, host=fake.url, region="FR")


def stop_everyone(n: int) -> None:
    with db.session_scope() as session:
        for i in range(1, n + 1):
            contact = service.find_by_phone(session, phone(i))
            assert contact is not None
            consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")


def test_250_consent_changes_are_three_requests(outbound_to_loopback: None, runtime: Settings) -> None:
    """One PATCH per contact made 250 changes 250 requests (30,000: most of an hour against HubSpot's limit of
    about 100 per 10 s); the batch update takes 100 a request."""
    with fake_hubspot.running(people(250)) as fake:
        fake.page_size = 100
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake))
        stop_everyone(250)
        fake.requests[:] = []
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake)) == 250
        assert fake.requests == [f"POST {fake_hubspot.PATH}/batch/update"] * 3
        assert [len(ids) for ids in fake.batches] == [100, 100, 50]
        assert sorted(fake.updates) == sorted((i, {"sms_consent": "opted_out"}) for i in people(250))
        with db.session_scope() as session:  # the cursor moved past all three: nothing again
            assert hubspot_push.push_opt_outs(session, config(fake)) == 0
        assert len(fake.requests) == 3


@pytest.mark.parametrize("answer", ["207", "error"])
def test_a_contact_deleted_in_hubspot_leaves_the_rest_of_its_batch_written(
        outbound_to_loopback: None, runtime: Settings, answer: str) -> None:
    """A contact deleted (or merged) in HubSpot in a batch: HubSpot answers 207 naming it with the others written,
    or refuses the call naming it; either way the others are written and it is listed invalid."""
    with fake_hubspot.running(people(3)) as fake:
        fake.missing_answer = answer
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake))
        stop_everyone(3)
        del fake.contacts["1002"]
        result = hubspot.SyncResult()
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake), result=result) == 2
        assert [c for c, _ in fake.updates] == ["1001", "1003"]
        sent = [["1001", "1002", "1003"]] + ([["1001", "1003"]] if answer == "error" else [])
        assert fake.batches == sent
        assert result.invalid == [{"hubspot_id": "1002", "message": "not in HubSpot (deleted or merged there): its "
                                                                    "consent was not written"}]
        with db.session_scope() as session:
            assert hubspot_push.push_opt_outs(session, config(fake)) == 0
        assert fake.batches == sent


def events() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(ConsentEvent)) or 0


def test_a_pull_after_the_first_reads_only_the_contacts_modified_since(outbound_to_loopback: None,
                                                                       runtime_any_db: Settings) -> None:
    """Every pull re-read every HubSpot contact (300 requests a pull for 30,000 contacts). After a first complete
    pull, one search asks for those modified since it began (less a few minutes, read again harmlessly)."""
    with fake_hubspot.running(people(300)) as fake:
        fake.page_size = 100
        with db.session_scope() as session:
            first = hubspot.pull_contacts(session, config(fake))
        assert first.seen == 300 and len(fake.requests) == 3
        fake.edit("1007", sms_consent="stop")
        for i in (1010, 1020, 1030, 1040):
            fake.edit(str(i), firstname=f"Renamed {i}")
        fake.requests[:] = []
        before = events()
        with db.session_scope() as session:
            second = hubspot.pull_contacts(session, config(fake))
        assert fake.requests == [f"POST {fake_hubspot.PATH}/search"]
        assert (second.seen, second.updated, second.opted_out) == (5, 5, 1)
        assert events() == before + 1  # the STOP
        with db.session_scope() as session:
            stopped, renamed = service.find_by_phone(session, phone(7)), service.find_by_phone(session, phone(10))
            assert stopped is not None and stopped.opted_out
            assert renamed is not None and renamed.first_name == "Renamed 1010"
        with db.session_scope() as session:  # within the overlap: the same five read again, nothing recorded twice
            third = hubspot.pull_contacts(session, config(fake))
        assert third.seen == 5 and events() == before + 1 and len(fake.requests) == 2


def test_a_pull_walks_past_the_search_cap(outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch,
                                          runtime: Settings) -> None:
    """HubSpot's search pages through 10,000 results at most (400 past them): each page is a new search from the
    last contact read, so every modified contact is read however many there are (here a cap of 200), and a contact
    edited while the pull pages through skips none (an offset moved past one not read yet)."""
    monkeypatch.setattr(hubspot, "SEARCH_CAP", 200)
    with fake_hubspot.running(people(450)) as fake:
        fake.page_size, fake.search_cap = 100, 200
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake))
        now = int(time.time() * 1000)
        for n, contact_id in enumerate(people(450)):
            fake.edit(contact_id, firstname=f"New {contact_id}")
            fake.modified[contact_id] = now + n  # one a millisecond
        edited = "1011"  # read on the first page, edited before the second: it goes to the end of the order

        def edit() -> None:
            fake.edit(edited, firstname="Newer")
            fake.modified[edited] = now + 1000

        fake.after_search, fake.requests[:] = [edit], []
        with db.session_scope() as session:
            result = hubspot.pull_contacts(session, config(fake))
        with db.session_scope() as session:
            for i in (1, 100, 101, 102, 200, 201, 399, 450):
                contact = service.find_by_phone(session, phone(i))
                assert contact is not None and contact.first_name == f"New {1000 + i}", i
            contact = service.find_by_phone(session, phone(11))
            assert contact is not None and contact.first_name == "Newer"
        # 1001-1100, then from the last read: 1100-1199, 1199-1298, 1298-1397, 1397-1450 and 1011 again
        assert fake.requests == [f"POST {fake_hubspot.PATH}/search"] * 5
        assert result.seen == 455 and not result.invalid


def test_the_sync_sends_no_more_than_the_configured_requests_per_10_s(outbound_to_loopback: None,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      runtime: Settings) -> None:
    """The sync sent as fast as it could and waited out HubSpot's 429s; it now spaces its requests, at most the
    configured number (RELAIS_HUBSPOT_REQUESTS_PER_10S, default 90) in any 10 s."""
    monkeypatch.setenv("RELAIS_HUBSPOT_ACCESS_TOKEN", "token")
    get_settings.cache_clear()
    found = crm_config.hubspot_config(get_settings())
    assert found is not None and found.requests_per_10s == 90
    monkeypatch.setenv("RELAIS_HUBSPOT_REQUESTS_PER_10S", "3")
    get_settings.cache_clear()
    found = crm_config.hubspot_config(get_settings())
    assert found is not None and found.requests_per_10s == 3
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pace = Pace(3, clock=lambda: clock[0], sleep=sleep)
    with fake_hubspot.running(people(7)) as fake:
        fake.page_size = 1
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), pace=pace)
    assert len(fake.requests) == 7 and slept == [10.0, 10.0]
    assert list(pace.sent) == [20.0]  # 0, 0, 0, 10, 10, 10, 20: three in any 10 s
    assert pace.waited_seconds == 20.0


def test_an_interrupted_pull_of_what_changed_resumes_at_the_last_contact_read(
        outbound_to_loopback: None, monkeypatch: pytest.MonkeyPatch, runtime: Settings) -> None:
    """HubSpot's limit used up after one page of a search: the contacts read are kept, and the next pull searches
    from the last one read (read again, harmlessly), not from the beginning; the one after reads only what changed
    since the interrupted one began."""
    from core.retry import RetryPolicy

    monkeypatch.setattr(hubspot, "PAGE_SIZE", 2)
    policy = RetryPolicy(attempts=2, sleep=lambda _: None)
    with fake_hubspot.running(people(6)) as fake:
        with db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
        now = int(time.time() * 1000)
        for n, contact_id in enumerate(["1002", "1003", "1004", "1005"]):
            fake.edit(contact_id, firstname=f"New {contact_id}")
            fake.modified[contact_id] = now + n
        fake.limit = fake.answered + 1
        with pytest.raises(hubspot.SyncInterrupted, match="Kept: 2 contacts read in this run; the next sync resumes "
                                                          "the pull at contacts modified since"), \
                db.session_scope() as session:
            hubspot.pull_contacts(session, config(fake), policy=policy)
        fake.limit, fake.requests[:] = None, []
        with db.session_scope() as session:
            resumed = hubspot.pull_contacts(session, config(fake), policy=policy)
        assert resumed.resumed_from is not None and resumed.resumed_from.startswith("modified since")
        assert resumed.seen == 4 and len(fake.requests) == 2  # 1003 (read again), 1004; then 1004 again, 1005
        with db.session_scope() as session:
            again = hubspot.pull_contacts(session, config(fake), policy=policy)
            assert service.find_by_phone(session, phone(5)).first_name == "New 1005"  # type: ignore[union-attr]
        # the four within the overlap of the interrupted one's start, each page's last read again by the next
        assert (again.resumed_from, again.seen) == (None, 6)
