"""HubSpot sync through ``hubspot-api-client``: pull contacts, push Relais consent changes back.

Pull reads every HubSpot contact page by page (phone, names, language, the SMS consent property)
and upserts it (:mod:`contacts.crm.upsert`). Push sends the consent of contacts that came from HubSpot
whose consent changed in Relais since the last push (a cursor over the consent ledger): ``opted_out``
for a STOP (:data:`OPTED_OUT`), ``declined`` for no marketing consent (:data:`DECLINED`), ``opted_in``;
a pull reads each back as the same consent, so push then pull leaves the ledger as it was. Changes
that came *from* the CRM are not echoed back, and a pull leaves the consent of a contact with a change
not pushed yet as it is (the push that follows writes it; HubSpot's value is the older one).

Every call goes through :data:`POLICY` (``core.retry``): a 429 (HubSpot allows a private app about 100 requests per
10 s) or a 5xx is retried as HubSpot's ``Retry-After`` asks, else with backoff; another 4xx is not. When a call
still fails, :class:`SyncInterrupted` is raised and what was done is committed with it (``core.errors.ProgressKept``):
the pull's cursor (:data:`PULL_CURSOR`, the next page) and the push's (:data:`PUSH_CURSOR`, the last ledger event
written) let the next sync go on from there, reading and writing nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts.crm.upsert import ConsentValue, ExternalContact, upsert
from contacts.importer import consent_answer
from contacts.models import ConsentEvent, Contact, SyncCursor
from core import outbound_http
from core.errors import ProgressKept, RelaisError, ValidationFailed
from core.retry import CallFailed, Failure, RetryPolicy, Tally, header, retry_after

PUSH_CURSOR = "hubspot:opt_out_push"
#: the ``after`` token of the next contact page to read while a pull is under way ("" between pulls)
PULL_CURSOR = "hubspot:pull"
#: HubSpot's calls: 6 attempts, waits up to 30 s each (its limits are per 10 s; a longer Retry-After ends the run)
POLICY = RetryPolicy(attempts=6, base=1.0, max_delay=30.0)
#: seconds one call may take (the SDK waits forever by default)
REQUEST_TIMEOUT = 30.0
#: consent writes between two checkpoints of a push (a pull checkpoints after each page)
PUSH_CHECKPOINT_EVERY = 50
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

    The SDK opens its own connections, so the host is checked here, before each sync builds one. Its own
    retries are off: :data:`POLICY` retries each call, capped, counted and with a sleep tests can control.

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


def pull_contacts(
    session: Session,
    config: HubSpotConfig,
    *,
    client: HubSpot | None = None,
    policy: RetryPolicy | None = None,
    result: SyncResult | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> SyncResult:
    """Upsert every HubSpot contact that has a valid phone number; invalid ones are reported.

    A pull goes on from the page an interrupted one stopped at (:data:`PULL_CURSOR`; ``result.resumed_from``);
    the cursor moves after each page, so a page is read once. ``checkpoint`` (the job's ``session.commit``) is
    called after each page, so a worker stopped mid-pull keeps the pages done.

    Raises:
        SyncInterrupted: a call still failed after :data:`POLICY`'s retries, or HubSpot refused it (a 401: the
            token); the pages read before it are kept with the cursor.
    """
    api = (client or make_client(config)).crm.contacts.basic_api
    result = result if result is not None else SyncResult()
    retrying = policy or POLICY
    properties = [
        config.phone_property,
        config.fallback_phone_property,
        "firstname",
        "lastname",
        config.language_property,
        config.consent_property,
    ]
    known = attrs.schema(session)
    # their HubSpot value predates Relais' change (a "no" from an import, a START): the push writes it over
    held = {str(hubspot_id) for _, hubspot_id, _ in _unpushed(session, _pushed_up_to(session)) if hubspot_id}
    cursor = _cursor(session, PULL_CURSOR, "")
    after: str | None = cursor.value or None
    result.resumed_from = after
    while True:
        call = partial(api.get_page, limit=PAGE_SIZE, after=after, properties=properties, archived=False,
                       _request_timeout=REQUEST_TIMEOUT)
        try:
            page = retrying.call(f"GET contacts page{f' after {after}' if after else ''}", call, failure=_failure,
                                 tally=result.calls)
        except CallFailed as exc:
            session.flush()
            kept = (f"Kept: {result.seen} contacts read in this run; the next sync resumes the pull at page after "
                    f"{after}" if after else "Nothing was read; the next sync starts the pull again")
            raise result.interrupted(exc, kept) from None
        for item in page.results or []:
            result.seen += 1
            props = item.properties or {}
            phone = props.get(config.phone_property) or props.get(config.fallback_phone_property)
            if not phone:
                result.invalid.append({"hubspot_id": str(item.id), "message": "no phone number"})
                continue
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
                continue
            result.created += created
            result.updated += not created
            result.opted_out += contact.opted_out
            result.declined += contact.consent_status == "opted_out" and not contact.opted_out
        after = page.paging.next.after if page.paging and page.paging.next else None
        cursor.value = after or ""  # this page is done: an interruption resumes at the next one
        session.flush()
        if checkpoint is not None:
            checkpoint()
        if not after:
            return result


def push_opt_outs(
    session: Session,
    config: HubSpotConfig,
    *,
    client: HubSpot | None = None,
    policy: RetryPolicy | None = None,
    result: SyncResult | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Write to HubSpot the consent of each contact whose consent changed in Relais since the last push (a
    STOP, declined marketing, an opt-in); returns how many contacts were written (added to ``result.pushed``).

    The value written is the contact's consent now (:data:`OPTED_OUT`, :data:`DECLINED`, :data:`OPTED_IN`), once
    per contact, so a change undone before the push is not written, and a pull reads back what was written.
    The cursor advances only past events that were pushed (or need no push), so a HubSpot outage or a rate
    limit that does not lift leaves the rest for the next run, and nothing is written twice. A contact HubSpot
    no longer has (404: deleted or merged there) is reported in ``result.invalid`` and passed. ``checkpoint``
    (the job's ``session.commit``) is called every :data:`PUSH_CHECKPOINT_EVERY` writes. (Named for what it
    first pushed: the route and job call it so.)

    Raises:
        SyncInterrupted: a write still failed after :data:`POLICY`'s retries, or HubSpot refused it (an option
            missing from the property: named); earlier writes of this run are kept with the cursor.
    """
    api = (client or make_client(config)).crm.contacts.basic_api
    result = result if result is not None else SyncResult()
    retrying = policy or POLICY
    cursor = _cursor(session, PUSH_CURSOR, "0")
    written: set[str] = set()
    for event_id, hubspot_id, value in _unpushed(session, int(cursor.value or 0)):
        if hubspot_id and value and hubspot_id not in written:
            body = SimplePublicObjectInput(properties={config.consent_property: value})
            call = partial(api.update, hubspot_id, body, _request_timeout=REQUEST_TIMEOUT)
            try:
                retrying.call(f"PATCH contact {hubspot_id}", call, failure=_failure, tally=result.calls)
            except CallFailed as exc:
                if exc.status != 404:
                    session.flush()
                    result.pushed += len(written)
                    kept = (f"Kept: {len(written)} consent changes written in this run; the next sync resumes the "
                            f"push at contact {hubspot_id}")
                    if exc.status == 400:  # a property made for opted_in / opted_out only refuses declined
                        kept = (f"HubSpot refused {config.consent_property}={value} for contact {hubspot_id} (400): "
                                f"the property needs the options {OPTED_IN}, {DECLINED} and {OPTED_OUT}. {kept}")
                    raise result.interrupted(exc, kept) from None
                # deleted or merged in HubSpot: it stopped every push here, run after run
                result.invalid.append({"hubspot_id": hubspot_id, "message": "not in HubSpot (deleted or merged "
                                       "there): its consent was not written"})
            else:
                written.add(hubspot_id)
                if checkpoint is not None and len(written) % PUSH_CHECKPOINT_EVERY == 0:
                    cursor.value = str(event_id)
                    session.flush()
                    checkpoint()
        cursor.value = str(event_id)
    session.flush()
    result.pushed += len(written)
    return len(written)
