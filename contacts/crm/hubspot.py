"""HubSpot sync through ``hubspot-api-client``: pull contacts, push Relais consent changes back.

Pull reads every HubSpot contact page by page (phone, names, language, the SMS consent property)
and upserts it (:mod:`contacts.crm.upsert`). Push sends the consent of contacts that came from HubSpot
whose consent changed in Relais since the last push (a cursor over the consent ledger): ``opted_out``
for a STOP (:data:`OPTED_OUT`), ``declined`` for no marketing consent (:data:`DECLINED`), ``opted_in``;
a pull reads each back as the same consent, so push then pull leaves the ledger as it was. Changes
that came *from* the CRM are not echoed back, and a pull leaves the consent of a contact with a change
not pushed yet as it is (the push that follows writes it; HubSpot's value is the older one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from core.errors import RelaisError, ValidationFailed

PUSH_CURSOR = "hubspot:opt_out_push"
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "opted_out": self.opted_out,
            "declined": self.declined,
            "pushed": self.pushed,
            "invalid": self.invalid[:100],
        }


def make_client(config: HubSpotConfig) -> HubSpot:
    """The SDK client; a configured host must be a public address (``core.outbound_http``).

    The SDK opens its own connections, so the host is checked here, before each sync builds one.

    Raises:
        OutboundBlocked: ``host`` points to loopback, a private network, the metadata service...
    """
    options: dict[str, Any] = {"access_token": config.access_token}
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


def pull_contacts(session: Session, config: HubSpotConfig, *, client: HubSpot | None = None) -> SyncResult:
    """Upsert every HubSpot contact that has a valid phone number; invalid ones are reported.

    Raises:
        CrmUnavailable: HubSpot answered an error (status and reason in the detail).
    """
    api = (client or make_client(config)).crm.contacts.basic_api
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
    result = SyncResult()
    after: str | None = None
    while True:
        try:
            page = api.get_page(limit=PAGE_SIZE, after=after, properties=properties, archived=False)
        except ApiException as exc:
            raise CrmUnavailable(f"HubSpot answered {exc.status} {exc.reason}") from None
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
        if not after:
            return result


def push_opt_outs(session: Session, config: HubSpotConfig, *, client: HubSpot | None = None) -> int:
    """Write to HubSpot the consent of each contact whose consent changed in Relais since the last push (a
    STOP, declined marketing, an opt-in); returns how many contacts were written.

    The value written is the contact's consent now (:data:`OPTED_OUT`, :data:`DECLINED`, :data:`OPTED_IN`), once
    per contact, so a change undone before the push is not written, and a pull reads back what was written.
    The cursor advances only past events that were pushed (or need no push), so a HubSpot outage
    leaves the rest for the next run. (Named for what it first pushed: the route and job call it so.)

    Raises:
        CrmUnavailable: HubSpot answered an error (an option missing from the property too); earlier pushes
            of this run are kept.
    """
    api = (client or make_client(config)).crm.contacts.basic_api
    cursor = session.get(SyncCursor, PUSH_CURSOR) or SyncCursor(name=PUSH_CURSOR, value="0")
    session.add(cursor)
    written: set[str] = set()
    for event_id, hubspot_id, value in _unpushed(session, int(cursor.value or 0)):
        if hubspot_id and value and hubspot_id not in written:
            body = SimplePublicObjectInput(properties={config.consent_property: value})
            try:
                api.update(hubspot_id, body)
            except ApiException as exc:
                session.flush()
                if exc.status == 400:  # a property made for opted_in / opted_out only refuses declined
                    raise CrmUnavailable(
                        f"HubSpot refused {config.consent_property}={value} for contact {hubspot_id} ({exc.status}"
                        f" {exc.reason}): the property needs the options {OPTED_IN}, {DECLINED} and {OPTED_OUT}"
                    ) from None
                raise CrmUnavailable(f"HubSpot answered {exc.status} {exc.reason}") from None
            written.add(hubspot_id)
        cursor.value = str(event_id)
    session.flush()
    return len(written)
