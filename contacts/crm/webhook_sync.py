"""Generic signed-webhook sync: another system POSTs contact upserts to Relais.

Signature: header ``Relais-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
(the scheme of Relais' own outbound webhooks, ``core.webhooks.sign``). A timestamp older than five
minutes is refused, and each signed request is applied once (remembered in Redis for ten minutes), so a
captured request cannot be replayed; one that was refused or failed is not remembered, so the sender's retry of
it is judged again (:func:`receive`). Body: ``{"contacts": [{"phone": ..., "name": ..., "first_name":
..., "language": ..., "timezone": ..., "attributes": {...}, "tags": [...], "consent": "opted_in" |
"declined" | "opted_out" | null, "proof": ..., "external_id": ...}]}``, at most 1,000 records, applied all or
nothing; any other field is refused (a misspelt ``consnet`` would otherwise be dropped without a word).
``declined`` is no marketing consent (service texts and replies still go), ``opted_out`` a STOP (no text at
all): recorded by :func:`contacts.crm.upsert.upsert` as the HubSpot pull and an import's "no" record them.
"""

from __future__ import annotations

import json
from typing import Any, cast, get_args

from redis import Redis
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts.crm.upsert import ConsentValue, ExternalContact, upsert
from core import json_input, webhooks
from core.errors import Conflict, Unauthorized, ValidationFailed

MAX_RECORDS = 1000
REPLAY_TTL_SECONDS = 2 * webhooks.SIGNATURE_TOLERANCE_SECONDS
#: a record's fields; any other is refused
FIELDS = ("phone", "name", "first_name", "language", "timezone", "attributes", "tags", "consent", "proof",
          "external_id")
#: the consent values a record may carry (or null: consent left as it is), the names :data:`ConsentValue` gives
CONSENTS: tuple[str, ...] = get_args(ConsentValue)


def receive(session: Session, *, secret: str, header: str, body: bytes, redis: Redis,
            region: str | None) -> dict[str, int]:
    """Verify a signed request and apply it (:func:`verify_request`, :func:`apply`).

    A request :func:`apply` refuses or fails on is forgotten again: it was remembered as processed before, so the
    sender's retry of the same signed request (after a 500, or a 422 it did not read) got 409 "already processed"
    while nothing had been applied, and a STOP recorded in the CRM was lost.

    Raises:
        what :func:`verify_request` and :func:`apply` raise.
    """
    claim = verify_request(secret=secret, header=header, body=body, redis=redis)
    try:
        return apply(session, body, region=region)
    except BaseException:
        redis.delete(claim)
        raise


def verify_request(*, secret: str, header: str, body: bytes, redis: Redis, now: float | None = None) -> str:
    """Check signature, freshness and first use; returns the Redis key that marks the request as used.

    Raises:
        Unauthorized: missing/bad signature or stale timestamp.
        Conflict: this exact signed request was already accepted (a replay).
    """
    if not secret:
        raise Unauthorized("the webhook sync has no secret configured")
    mac = webhooks.verified_mac(secret, header, body, now=now) if header else None
    if mac is None:
        raise Unauthorized("bad or stale Relais-Signature")
    # keyed on the MAC computed from the body, not the header's text: another spelling of the same
    # signed request (a second ``v1=``, extra fields) is still the same request
    claim = f"relais:contact-sync:seen:{mac}"
    if not redis.set(claim, 1, nx=True, ex=REPLAY_TTL_SECONDS):
        raise Conflict("this request was already processed (replay)")
    return claim


def _refused(fields: list[str], message: str) -> ValidationFailed:
    """The 422 naming each refused field (``contacts[3].consent``), so a sender sees which value to fix."""
    return ValidationFailed(
        f"{', '.join(fields)}: {message}", errors=[{"field": field, "message": message} for field in fields]
    )


def _record(item: Any, position: int) -> ExternalContact:
    where = f"contacts[{position}]"
    if not isinstance(item, dict) or not isinstance(item.get("phone"), str):
        raise _refused([where], "expected an object with a phone string")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise _refused([f"{where}.{name}" for name in unknown], f"unknown field; the fields are {', '.join(FIELDS)}")
    consent = item.get("consent")
    if consent is not None and consent not in CONSENTS:
        raise _refused(
            [f"{where}.consent"],
            f"{json.dumps(consent)} is not one of opted_in, declined (no marketing consent), opted_out (a STOP) "
            "or null (left as it is)",
        )
    tags = item.get("tags") or []
    attributes = item.get("attributes") or {}
    if not isinstance(tags, list) or not isinstance(attributes, dict):
        raise _refused([where], "tags must be a list and attributes an object")
    return ExternalContact(
        phone=item["phone"],
        system="webhook",
        external_id=str(item.get("external_id") or ""),
        name=item.get("name"),
        first_name=item.get("first_name"),
        language=item.get("language"),
        timezone=item.get("timezone"),
        attributes=attributes,
        tags=tuple(str(t) for t in tags),
        consent=cast("ConsentValue | None", consent),
        proof=str(item.get("proof") or ""),
    )


def apply(session: Session, body: bytes, *, region: str | None) -> dict[str, int]:
    """Upsert every record of a verified body; returns ``{"created": n, "updated": m}``.

    Raises:
        ValidationFailed: not JSON, too many records, or any invalid record (errors list each,
            by position); the caller rolls back so nothing is applied.
    """
    try:
        payload = json_input.loads(body)
    except ValueError:
        raise ValidationFailed("body is not JSON") from None
    items = payload.get("contacts") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed('body must be {"contacts": [...]}')
    unknown = sorted(set(payload) - {"contacts"})
    if unknown:
        raise _refused(unknown, 'unknown field; the body is {"contacts": [...]}')
    if len(items) > MAX_RECORDS:
        raise ValidationFailed(f"at most {MAX_RECORDS} contacts per request")
    known = attrs.schema(session)
    counts = {"created": 0, "updated": 0}
    errors: list[dict[str, Any]] = []
    invalid = 0
    for position, item in enumerate(items):
        try:
            record = _record(item, position)  # its refusals name their field (contacts[3].consent)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            invalid += 1
            continue
        try:
            _, created = upsert(session, record, region=region, known=known)
        except ValidationFailed as exc:  # a bad number, language, zone or attribute: named by position
            errors.append({"field": f"contacts[{position}]", "message": exc.detail})
            invalid += 1
            continue
        counts["created" if created else "updated"] += 1
    if errors:
        first = f"{errors[0]['field']}: {errors[0]['message']}"
        raise ValidationFailed(f"{invalid} of {len(items)} contacts are invalid, none applied ({first})", errors=errors)
    return counts
