"""Generic signed-webhook sync: another system POSTs contact upserts to Relais.

Signature: header ``Relais-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
(the scheme of Relais' own outbound webhooks, ``core.webhooks.sign``). A timestamp older than five
minutes is refused, and each signature is accepted once (remembered in Redis for ten minutes), so a
captured request cannot be replayed. Body: ``{"contacts": [{"phone": ..., "name": ..., "first_name":
..., "language": ..., "timezone": ..., "attributes": {...}, "tags": [...], "consent": "opted_in" |
"opted_out" | null, "external_id": ...}]}``, at most 1,000 records, applied all or nothing.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts.crm.upsert import ExternalContact, upsert
from core import webhooks
from core.errors import Conflict, Unauthorized, ValidationFailed

MAX_RECORDS = 1000
REPLAY_TTL_SECONDS = 2 * webhooks.SIGNATURE_TOLERANCE_SECONDS


def verify_request(*, secret: str, header: str, body: bytes, redis: Redis, now: float | None = None) -> None:
    """Check signature, freshness and first use.

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
    if not redis.set(f"relais:contact-sync:seen:{mac}", 1, nx=True, ex=REPLAY_TTL_SECONDS):
        raise Conflict("this request was already processed (replay)")


def _record(item: Any, position: int) -> ExternalContact:
    if not isinstance(item, dict) or not isinstance(item.get("phone"), str):
        raise ValidationFailed(f"contacts[{position}]: expected an object with a phone string")
    consent = item.get("consent")
    if consent not in (None, "opted_in", "opted_out"):
        raise ValidationFailed(f"contacts[{position}].consent: expected opted_in, opted_out or null")
    tags = item.get("tags") or []
    attributes = item.get("attributes") or {}
    if not isinstance(tags, list) or not isinstance(attributes, dict):
        raise ValidationFailed(f"contacts[{position}]: tags must be a list and attributes an object")
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
        consent=consent,
        proof=str(item.get("proof") or ""),
    )


def apply(session: Session, body: bytes, *, region: str | None) -> dict[str, int]:
    """Upsert every record of a verified body; returns ``{"created": n, "updated": m}``.

    Raises:
        ValidationFailed: not JSON, too many records, or any invalid record (errors list each,
            by position); the caller rolls back so nothing is applied.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationFailed("body is not JSON") from None
    items = payload.get("contacts") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed('body must be {"contacts": [...]}')
    if len(items) > MAX_RECORDS:
        raise ValidationFailed(f"at most {MAX_RECORDS} contacts per request")
    known = attrs.schema(session)
    counts = {"created": 0, "updated": 0}
    errors: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        try:
            _, created = upsert(session, _record(item, position), region=region, known=known)
        except ValidationFailed as exc:
            errors.append({"field": f"contacts[{position}]", "message": exc.detail})
            continue
        counts["created" if created else "updated"] += 1
    if errors:
        raise ValidationFailed(
            f"{len(errors)} of {len(items)} contacts are invalid; none applied", errors=errors
        )
    return counts
