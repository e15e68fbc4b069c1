"""HubSpot sync through ``hubspot-api-client``: pull contacts, push Relais consent changes back
(:mod:`contacts.crm.hubspot_push`).

Pull reads every HubSpot contact page by page the first time, then only those modified since (phone, names,
language, the SMS consent property) and upserts each (:mod:`contacts.crm.upsert`). Push sends the consent of
contacts that came from HubSpot whose consent changed in Relais since the last push (a cursor over the consent
ledger): ``opted_out`` for a STOP (:data:`OPTED_OUT`), ``declined`` for no marketing consent (:data:`DECLINED`),
``opted_in``; a pull reads each back as the same consent, so push then pull leaves the ledger as it was. Changes
that came *from* the CRM are not echoed back, and a pull leaves the consent of a contact with a change
not pushed yet as it is (the push that follows writes it; HubSpot's value is the older one).

Every call goes through :data:`POLICY` (``core.retry``), no more than ``requests_per_10s`` of them in any 10 s
(``core.pace``): a 429 (HubSpot allows a private app about 100 requests per
10 s) or a 5xx is retried as HubSpot's ``Retry-After`` asks, else with backoff; another 4xx is not. When a call
still fails, :class:`SyncInterrupted` is raised and what was done is committed with it (``core.errors.ProgressKept``):
the pull's cursors (:data:`PULL_CURSOR`, the next page; :data:`SINCE_CURSOR`, the last contact read) and the push's
(:data:`PUSH_CURSOR`, the last ledger event written) let the next sync go on from there, reading and writing nothing
twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    )
from hubspot.crm.contacts.exceptions import ApiException
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts.crm.upsert import ConsentValue, ExternalContact, upsert
from contacts.importer import consent_answer
from contacts.models import ConsentEvent, Contact, SyncCursor
from core import outbound_http
from core.errors import ProgressKept, RelaisError, ValidationFailed
from core.pace import Pace
from core.retry import CallFailed, Failure, RetryPolicy, Tally, header, retry_after

PUSH_CURSOR = "hubspot:opt_out_push"
#: the ``after`` token of the next contact page to read while a pull is under way ("" between pulls)
PULL_CURSOR = "hubspot:pull"
#: the lower bound (epoch ms) of the next pull's search by lastmodifieddate; "" until a complete pull was made
SINCE_CURSOR = "hubspot:pull_since"
#: when the pull under way began (epoch ms; "" between pulls): the next one searches from it, less the overlap
STARTED_CURSOR = "hubspot:pull_started"
#: a pull reads again what was modified this long before the previous one began (clocks apart, an edit under way)
PULL_OVERLAP_MS = 5 * 60 * 1000
#: results one HubSpot search may page through; past them a new search starts from the last contact read
SEARCH_CAP = 10_000
#: HubSpot's calls: 6 attempts, waits up to 30 s each (its limits are per 10 s; a longer Retry-After ends the run)
POLICY = RetryPolicy(attempts=6, base=1.0, max_delay=30.0)
#: seconds one call may take (the SDK waits forever by default)
REQUEST_TIMEOUT = 30.0
PAGE_SIZE = 100
#: the consent property's value for a STOP: :func:`push_opt_outs` writes it, a pull reads it as one (a "no"
#: is only no marketing consent, so the STOP would not survive the round trip as any other word)
OPTED_OUT = "opted_out"
#: the value for declined marketing (a "no", no STOP), read back as one; the property needs this option
DECLINED = "declined"
OPTED_IN = "opted_in"
#: the ledger actions a push writes back (the contact's consent at the push, which a later change may have moved)
PUSHED_ACTIONS = ("opt_in", "declined", "opt_out")


class CrmUnavailable(RelaisError):
    status_code = 502
    title = "CRM unavailable"


class SyncInterrupted(CrmUnavailable, ProgressKept):
    """A HubSpot call failed for good part-way through a sync; ``result`` is what this run did, which is committed
    with the cursors (the next sync resumes). The detail says which call, why, what was kept and where it resumes."""

    def __init__(self, detail: str, *, result: SyncResult) -> None:
        super().__init__(detail)
        self.result = result


@dataclass(frozen=True)
class HubSpotConfig:
    """Settings of the sync (Settings fields ``hubspot_*``, see docs/contacts.md)."""

    access_token: str
    host: str | None = None  # None = https://api.hubapi.com; tests point it at a loopback fake
    phone_property: str = "mobilephone"
    fallback_phone_property: str = "phone"
    consent_property: str = "sms_consent"  # an enumeration with values opted_in / declined / opted_out
    language_property: str = "hs_language"
    region: str | None = None
    #: requests sent per 10 s at most (HubSpot allows a private app about 100): a sync rarely meets a 429
    requests_per_10s: int = 90


@dataclass
class SyncResult:
    seen: int = 0
    created: int = 0
    updated: int = 0
    opted_out: int = 0  # contacts seen who opted out (a STOP)
    declined: int = 0  # contacts seen who gave no marketing consent (a "no"), without a STOP
    pushed: int = 0
    invalid: list[dict[str, str]] = field(default_factory=list)
    #: "complete", or "interrupted" (``error`` says why; the next sync resumes from the cursors)
    status: str = "complete"
    error: str = ""
    #: the contact page this run's pull resumed at (an earlier pull was interrupted), else None
    resumed_from: str | None = None
    #: retries, 429s and seconds waited over the run's HubSpot calls
    calls: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "opted_out": self.opted_out,
            "declined": self.declined,
            "pushed": self.pushed,
            "resumed_from": self.resumed_from,
            **self.calls.as_dict(),
            "error": self.error,
            "invalid": self.invalid[:100],
        }

    def interrupted(self, failed: CallFailed, kept: str) -> SyncInterrupted:
        """The error ending this run at ``failed``; ``kept`` says what stands and where the next sync goes on."""
        why = "HubSpot's rate limit did not lift" if failed.rate_limited else "HubSpot failed"
        self.status = "interrupted"
        self.error = f"{why}: {failed.detail}. {kept}"
        if self.calls.retries:
            self.error += f" ({self.calls.retries} retries, {self.calls.waited_seconds:.0f} s waited in this run)"
        return SyncInterrupted(f"HubSpot sync interrupted: {self.error}", result=self)


def _failure(exc: Exception) -> Failure | None:
    """A HubSpot SDK error read for :data:`POLICY`: the status and Retry-After of an answer, or no answer."""
    if isinstance(exc, ApiException):
        if not exc.status:  # the SDK's own failures (TLS, a request it cannot build): asking again changes nothing
            return Failure(None, f"HubSpot unreachable: {exc.reason}", retry=False)
        return Failure(exc.status, f"answered {exc.status} {exc.reason}",
                       retry_after(header(exc.headers, "Retry-After")))
    if isinstance(exc, urllib3.exceptions.HTTPError):  # refused, reset, timed out: no answer
        return Failure(None, f"no answer ({type(exc).__name__})")
    return None


def _cursor(session: Session, name: str, start: str) -> SyncCursor:
    cursor = session.get(SyncCursor, name)
    if cursor is None:
        cursor = SyncCursor(name=name, value=start)
        session.add(cursor)
    return cursor


def make_client(config: HubSpotConfig) -> HubSpot:
    """The SDK client; a configured host must be a public address (``core.outbound_http``).

    The SDK opens its own connections, so the host is checked here, before each sync builds one (not pinned: it is
    the operator's setting, which no person reaches through the API or the console). Its own retries are off:
    :data:`POLICY` retries each call, capped, counted and with a sleep tests can control; and with them off urllib3
    follows no redirect, so an answer cannot send the SDK to another, internal, address.

    Raises:
        OutboundBlocked: ``host`` points to loopback, a private network, the metadata service...
    """
    # retries are :data:`POLICY`'s: urllib3's default (3) slept whatever a 429's Retry-After said, uncapped, unseen
    options: dict[str, Any] = {"access_token": config.access_token, "retry": False}
    if config.host:
        outbound_http.check_url(config.host, field="hubspot_host")
        options["host"] = config.host.rstrip("/")
    return HubSpot(**options)


def _consent(value: str | None) -> ConsentValue | None:
    """The consent a HubSpot property value records: :data:`OPTED_OUT`, which :func:`push_opt_outs` writes for a
    STOP, reads back as a STOP; any other is read as an imported file's consent cell
    (``contacts.importer.consent_answer``), :data:`DECLINED` included: a "no" is no marketing consent, not a STOP
    (it was: service texts and replies stopped too); a value that says nothing (empty, an unknown word) changes
    nothing."""
    text = (value or "").strip().lower()
    if text == OPTED_OUT:
        return "opted_out"
    return consent_answer(value) or None


def _crm_value(opted_out: bool, consent_status: str) -> str | None:
    """The property value for a contact's consent; ``None`` when it gives none (pending, none)."""
    if opted_out:
        return OPTED_OUT
    return {"opted_out": DECLINED, "opted_in": OPTED_IN}.get(consent_status)


def _pushed_up_to(session: Session) -> int:
    cursor = session.get(SyncCursor, PUSH_CURSOR)
    return int(cursor.value or 0) if cursor else 0


def _unpushed(session: Session, after: int) -> list[tuple[int, str | None, str | None]]:
    """Consent changes made in Relais (not by the CRM) since ledger event ``after``, oldest first: the event's
    id, the contact's HubSpot id and the property value for its consent now."""
    rows = session.execute(
        select(ConsentEvent.id, Contact.external_ids, Contact.opted_out, Contact.consent_status)
        .join(Contact, Contact.id == ConsentEvent.contact_id)
        .where(
            ConsentEvent.id > after,
            ConsentEvent.action.in_(PUSHED_ACTIONS),
            ConsentEvent.source != "crm",
        )
        .order_by(ConsentEvent.id)
    ).all()
    return [(event_id, (ids or {}).get("hubspot"), _crm_value(stop, status)) for event_id, ids, stop, status in rows]


def _pace(config: HubSpotConfig, pace: Pace | None) -> Pace:
    return pace if pace is not None else Pace(config.requests_per_10s)


def _epoch_ms(item: Any) -> int | None:
    """A contact's lastmodifieddate in epoch ms (a search answer's ``updatedAt``), ``None`` when it has none."""
    when = getattr(item, "updated_at", None)
    return int(when.timestamp() * 1000) if isinstance(when, datetime) else None


def _apply(session: Session, config: HubSpotConfig, item: Any, *, held: set[str], known: Any,
           result: SyncResult) -> None:
    """Upsert one HubSpot contact (an invalid one is listed); reading the same one twice changes nothing more."""
    result.seen += 1
    props = item.properties or {}
    phone = props.get(config.phone_property) or props.get(config.fallback_phone_property)
    if not phone:
        result.invalid.append({"hubspot_id": str(item.id), "message": "no phone number"})
        return
    first, last = props.get("firstname") or "", props.get("lastname") or ""
    record = ExternalContact(
        phone=phone,
        system="hubspot",
        external_id=str(item.id),
        name=f"{first} {last}".strip() or None,
        first_name=first or None,
        language=(props.get(config.language_property) or "").split("-")[0].lower() or None,
        consent=None if str(item.id) in held else _consent(props.get(config.consent_property)),
        proof=f"hubspot contact {item.id} {config.consent_property}",
    )
    try:
        with session.begin_nested():
            contact, created = upsert(session, record, region=config.region, known=known)
    except ValidationFailed as exc:
        result.invalid.append({"hubspot_id": str(item.id), "message": exc.detail})
        return
    result.created += created
    result.updated += not created
    result.opted_out += contact.opted_out
    result.declined += contact.consent_status == "opted_out" and not contact.opted_out


def _search(bound: int, after: str | None, properties: list[str]) -> PublicObjectSearchRequest:
    """HubSpot's search for contacts modified at or after ``bound`` (epoch ms), oldest first."""
    return PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="lastmodifieddate", operator="GTE",
                                                   value=str(bound))])],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=properties, limit=PAGE_SIZE, after=after)


def pull_contacts(
    session: Session,
    config: HubSpotConfig,
    *,
    client: HubSpot | None = None,
    policy: RetryPolicy | None = None,
    result: SyncResult | None = None,
    checkpoint: Callable[[], None] | None = None,
    pace: Pace | None = None,
) -> SyncResult:
    """Upsert the HubSpot contacts that have a valid phone number (invalid ones are reported): every contact the
    first time, then only those modified since the last pull began (less :data:`PULL_OVERLAP_MS`).

    The first, complete pull pages through the contact list; a pull goes on from the page an interrupted one stopped
    at (:data:`PULL_CURSOR`; ``result.resumed_from``). After it, a pull searches contacts by ``lastmodifieddate``
    from :data:`SINCE_CURSOR` (re-reading every contact each time was 300 requests a pull for 30,000 contacts);
    each page after the first is a new search from the last contact read (an offset skipped a contact when one
    read before it was edited meanwhile), so the walk never meets HubSpot's cap of 10,000 results a query
    (:data:`SEARCH_CAP`) but for contacts modified in the same millisecond; the cursor moves to the last one read
    after each page, so an interrupted pull resumes there. Reading a contact twice (the overlap, the restart)
    changes nothing twice. ``checkpoint`` (the job's
    ``session.commit``) is called after each page, so a worker stopped mid-pull keeps the pages done.

    Raises:
        SyncInterrupted: a call still failed after :data:`POLICY`'s retries, or HubSpot refused it (a 401: the
            token); the pages read before it are kept with the cursor.
    """
    hub = client or make_client(config)
    result = result if result is not None else SyncResult()
    retrying, pacing = policy or POLICY, _pace(config, pace)
    properties = [config.phone_property, config.fallback_phone_property, "firstname", "lastname",
                  config.language_property, config.consent_property]
    known = attrs.schema(session)
    # their HubSpot value predates Relais' change (a "no" from an import, a START): the push writes it over
    held = {str(hubspot_id) for _, hubspot_id, _ in _unpushed(session, _pushed_up_to(session)) if hubspot_id}
    page_cursor = _cursor(session, PULL_CURSOR, "")
    since = _cursor(session, SINCE_CURSOR, "")
    started = _cursor(session, STARTED_CURSOR, "")
    resuming = bool(started.value)
    if not resuming:
        started.value = str(int(time.time() * 1000))
    apply = partial(_apply, session, config, held=held, known=known, result=result)

    def interrupted(exc: CallFailed, kept: str) -> SyncInterrupted:
        session.flush()
        return result.interrupted(exc, kept)

    if since.value:  # a complete pull was made: only what changed since
        bound, after = int(since.value), None
        result.resumed_from = f"modified since {_stamp(bound)}" if resuming else None
        while True:
            call = partial(hub.crm.contacts.search_api.do_search, _search(bound, after, properties),
                           _request_timeout=REQUEST_TIMEOUT)
            try:
                page = retrying.call(f"POST contacts search modified since {_stamp(bound)}"
                                     f"{f' after {after}' if after else ''}", pacing.paced(call), failure=_failure,
                                     tally=result.calls)
            except CallFailed as exc:
                raise interrupted(exc, f"Kept: {result.seen} contacts read in this run; the next sync resumes the "
                                       f"pull at contacts modified since {_stamp(int(since.value))}") from None
            last = bound
            for item in page.results or []:
                apply(item)
                last = max(last, _epoch_ms(item) or last)
            since.value = str(last)  # read up to here: an interruption searches again from it
            session.flush()
            if checkpoint is not None:
                checkpoint()
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                break
            if last > bound:
                # the next page is a new search from the last contact read, not the offset HubSpot gives: a contact
                # edited meanwhile moves to the end of the order and shifted the offset past one not read yet (which
                # was lost if older than the overlap); those modified in that same millisecond are read again
                bound, after = last, None
            elif int(after) >= SEARCH_CAP:  # HubSpot answers 400 past 10,000 results of one query: more than that
                bound, after = bound + 1, None  # modified in one millisecond (never seen) are passed from there
    else:
        after = page_cursor.value or None
        result.resumed_from = after
        while True:
            call = partial(hub.crm.contacts.basic_api.get_page, limit=PAGE_SIZE, after=after, properties=properties,
                           archived=False, _request_timeout=REQUEST_TIMEOUT)
            try:
                page = retrying.call(f"GET contacts page{f' after {after}' if after else ''}", pacing.paced(call),
                                     failure=_failure, tally=result.calls)
            except CallFailed as exc:
                kept = (f"Kept: {result.seen} contacts read in this run; the next sync resumes the pull at page after "
                        f"{after}" if after else "Nothing was read; the next sync starts the pull again")
                raise interrupted(exc, kept) from None
            for item in page.results or []:
                apply(item)
            after = page.paging.next.after if page.paging and page.paging.next else None
            page_cursor.value = after or ""  # this page is done: an interruption resumes at the next one
            session.flush()
            if checkpoint is not None and after:
                checkpoint()
            if not after:
                break
    # an edit made while this pull ran (to a contact already read) is newer than its start: the next pull reads it
    since.value, started.value = str(int(started.value) - PULL_OVERLAP_MS), ""
    session.flush()
    if checkpoint is not None:
        checkpoint()
    return result


def _stamp(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
