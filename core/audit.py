"""Append-only audit log of every change made by a person or an API key.

Diffs are stored with personal data redacted: the log proves *who changed what*, without
becoming a second copy of the personal data that erasure requests must reach.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from core.models import AuditEntry
from core.settings import get_settings
from core.spreadsheet import neutralise

PII_KEYS = frozenset(
    {
        "phone",
        "phone_number",
        "from",
        "to",
        "msisdn",
        "email",
        "body",
        "text",
        "name",
        "first_name",
        "last_name",
        "address",
        "attributes",
        "password",
        "secret",
        "token",
        "totp_secret",
        "key",
    }
)
#: the shop's own things, whose name is business data an admin must read ("which template was changed"); a person's
#: name (a contact's, a user's) stays ``[redacted]``, as does a name inside a nested value
NAMED_THINGS = frozenset(
    {
        "api_key", "brand", "campaign", "canned_response", "contact_list", "event_template", "intent_model", "segment",
        "sender", "team", "template", "variant", "webhook_subscription",
    }
)
TARGET_ID_LENGTH = 64  # AuditEntry.target_id
# the local part is at most 64 characters (RFC 5321): unbounded, a long run of digits without "@" (a pasted
# list) took 100 s to redact, every start trying every length
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]+\.[\w.-]+")
# Text is read token by token: what must stay (dates, times, words and ids holding a letter, #references) is
# matched first, so a number inside them is never taken for a phone; a run of digits and separators is a
# candidate judged by :func:`_is_phone`. The former single pattern (7+ digits and separators anywhere) read
# an intent model version 20261201T053144Z-… as "[phone]T053144Z-…" and every ISO date as a phone.
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
_DAY, _MONTH, _YEAR = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])", r"(?:19|20)\d{2}"
_DATE = rf"(?:{_YEAR}(?P<s1>[-./]){_MONTH}(?P=s1){_DAY}|{_DAY}(?P<s2>[-./]){_MONTH}(?P=s2){_YEAR})"
_TOKEN = re.compile(
    rf"(?P<keep>(?<!\d){_DATE}(?:[T ]{_TIME})?(?!\d)"
    rf"|(?<!\d){_TIME}(?!\d)"
    r"|(?:\w+-)*\w*[^\W\d]\w*(?:-\w+)*"  # a word or an id holding a letter: 20261201T053144Z-db…, a UUID
    r"|[#№]\d+)"  # an order or ticket reference
    r"|(?P<number>\+?\(?\d(?:[ \u00a0.()-]{0,3}\d)*)"
)
_DIGIT_PART = re.compile(r"(?<![^-])\d+(?![^-])")  # an all-digit part of a hyphenated token


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper: Any, _connection: Any, _target: AuditEntry) -> None:
    # as the consent ledger: a loaded entry changed or deleted through the ORM stops the flush
    raise RuntimeError("the audit log is append-only")


@dataclass(frozen=True)
class Actor:
    """Who acted: a console user, an API key, or the system itself (jobs, webhooks)."""

    type: str  # "user" | "api_key" | "system"
    id: str
    name: str = ""
    ip: str = ""
    request_id: str = ""


SYSTEM = Actor(type="system", id="relais", name="Relais")


def redact(value: Any, *, keep: frozenset[str] = frozenset()) -> Any:
    """Replace PII fields and phone/email-looking strings with a marker, recursively (ids, dates, times and
    order numbers in a string stay: see :func:`_is_phone`). ``keep``: top-level fields that are not personal here
    (a template's ``name``); their values are still searched for phones and e-mail addresses."""
    if isinstance(value, Mapping):
        return {k: ("[redacted]" if str(k).lower() in PII_KEYS - keep else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _TOKEN.sub(_phone_or_kept, _EMAIL.sub("[email]", value))
    return value


def _is_phone(text: str) -> bool:
    """Whether a run of digits and separators (spaces, dots, dashes, brackets) is a phone number.

    International (``+``, ``00``) with 8 to 15 digits; grouped by separators (``06 12 34 56 78``,
    ``(415) 555-2671``, ``020 7946 0958``) with at least 8 (more than 15: several numbers side by side, hidden
    too); bare digits starting with the trunk ``0`` (``0612345678``) with 9 to 11; any other bare run only when
    it is a valid number written without its ``+`` (``33612345678``, as Vonage writes them) or in the
    default region's national form: an order number (``1002345678``) or a timestamp (``20261201053144``) is not.
    """
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return 8 <= len(digits) <= 15
    if digits.startswith("00"):
        return 8 <= len(digits) - 2 <= 15
    if not text.isdigit():
        return len(digits) >= 8
    if text.startswith("0"):
        return 9 <= len(text) <= 11
    if not 8 <= len(text) <= 15:
        return False
    return any(_valid(text, region) for region in ("+", _region()))


def _valid(text: str, region: str) -> bool:
    try:
        if region == "+":
            return phonenumbers.is_valid_number(phonenumbers.parse("+" + text))
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


def _region() -> str:
    return get_settings().default_region


def _phone_or_kept(match: re.Match[str]) -> str:
    if match.group("number") is not None:
        return "[phone]" if _is_phone(match.group("number")) else match.group(0)
    # a word glued to a phone by a hyphen (``tel-0612345678``) still hides the phone
    token = match.group(0)
    return _DIGIT_PART.sub(lambda part: "[phone]" if _is_phone(part.group(0)) else part.group(0), token)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    diff: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row (flushed with the caller's transaction, never on its own).

    A ``target_id`` longer than its column (a knowledge document's path, a name) is cut there and kept
    whole in the diff under ``target_id``: PostgreSQL refused the row, failing the request after its
    change (a document deleted from the vector store) was made, with no entry. The ``name`` of one of
    :data:`NAMED_THINGS` is kept: redacted, the log said a template "[redacted] → [redacted]" was renamed.
    """
    target = str(target_id)
    details = redact(dict(diff or {}), keep=frozenset({"name"}) if target_type in NAMED_THINGS else frozenset())
    if len(target) > TARGET_ID_LENGTH:
        details["target_id"] = redact(target)
        target = target[: TARGET_ID_LENGTH - 1] + "…"
    entry = AuditEntry(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=target,
        diff=details,
        ip=actor.ip,
        request_id=actor.request_id,
    )
    session.add(entry)
    session.flush()
    return entry


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A ``{field: [old, new]}`` diff of the fields that changed."""
    keys = set(before) | set(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def query(
    *,
    actor_type: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """The filtered audit query, newest first (paginated by the caller). ``action`` matches a prefix
    (``user.`` is every user action); ``actor_type`` tells user 3 from API key 3 (both ``actor_id`` 3)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if actor_type:
        stmt = stmt.where(AuditEntry.actor_type == actor_type)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt


def actions(session: Session) -> list[str]:
    """Every action the log holds, sorted (for a filter's choices)."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


CSV_FIELDS = (
    "id", "at", "actor_type", "actor_id", "actor_name", "action",
    "target_type", "target_id", "diff", "ip", "request_id",
)


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """The entries as CSV for a spreadsheet: ``diff`` as JSON, formula-like cells neutralised.

    Names, targets and diffs come from people (a user called ``=HYPERLINK(...)``), and the export
    is opened by an admin: every cell goes through :func:`core.spreadsheet.neutralise`.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for entry in entries:
        row = {name: getattr(entry, name) for name in CSV_FIELDS}
        row["diff"] = json.dumps(row["diff"] or {}, sort_keys=True)
        row["at"] = row["at"].isoformat()
        writer.writerow([neutralise(row[name]) for name in CSV_FIELDS])
    return buffer.getvalue()
