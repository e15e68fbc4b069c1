"""The audit log in words, for the console's audit page: who acted, what they did, on what, and the
changes, instead of ``user``/``3``/``user.role.change``/``{"role": ["agent", "marketer"]}``.

Presentation only: the rows, their filters and the CSV export are ``core.audit``'s. Every action the code
records has words of its own in :data:`ACTIONS` (a test reads the code for them); one without, from an older
version, is still readable ("Campaign: pause").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import language_name
from core.models import ApiKey, AuditEntry, User, WebhookSubscription

#: Actions whose dotted name does not say it well enough on its own.
ACTIONS: dict[str, str] = {
    "auth.login": "Logged in",
    "auth.login.failed": "Failed log-in",
    "auth.lockout": "Locked out after repeated failures",
    "auth.2fa.failed": "Wrong two-factor code",
    "auth.2fa.enrol": "Started setting up two-factor",
    "auth.2fa.enrol.failed": "Failed to re-confirm before replacing two-factor",
    "auth.2fa.confirm": "Replaced their two-factor authenticator",
    "auth.logout": "Logged out",
    "push.subscribe": "Turned on notifications in a browser",
    "push.unsubscribe": "Turned off notifications in a browser",
    "event.trigger": "Triggered a transactional event",
    "variant.create": "Drafted a variant",
    "user.create": "Added a user",
    "user.role.change": "Changed a user's role",
    "user.deactivate": "Deactivated a user",
    "user.reactivate": "Reactivated a user",
    "user.password.reset": "Set a temporary password",
    "user.password.change": "Changed their own password",
    "user.password.change.failed": "Failed to change their own password",
    "user.2fa.reset": "Reset a user's two-factor",
    "user.sessions.revoke": "Ended a user's sessions",
    "apikey.create": "Created an API key",
    "apikey.revoke": "Revoked an API key",
    "keys.rotate": "Re-encrypted stored data with the newest key",
    "contact.export": "Downloaded everything held on a contact",
    "contact.erase": "Erased a contact",
    "contacts.sync.hubspot": "Synchronised contacts with HubSpot",
    "contacts.sync.csv": "Imported the contacts of the CSV sync URL",
    "message.override_opt_out": "Texted an opted-out number (override)",
    "job.requeue": "Retried a failed job",
    "job.discard": "Discarded a failed job",
    "webhook.create": "Subscribed a webhook",
    "webhook.deactivate": "Turned a webhook off",
    "webhook.replay": "Sent a webhook delivery again",
    "webhook.test": "Sent a test event to a webhook",
    "webhook.secret.rotate": "Gave a webhook a new signing secret",
    "agent.status": "Changed an agent's availability",
    "agent.profile": "Set an agent's skills, languages and load",
    "agent.profile.update": "Changed the business profile the bot answers from",
    "brand.update": "Changed the brand profile",
    "campaign.create": "Created a campaign",
    "campaign.update": "Changed a draft campaign",
    "campaign.schedule": "Scheduled a campaign",
    "campaign.pause": "Paused a campaign",
    "campaign.resume": "Resumed a campaign",
    "campaign.cancel": "Cancelled a campaign",
    "campaign.conversion": "Recorded a conversion for a campaign",
    "canned.create": "Wrote a canned response",
    "canned.update": "Changed a canned response",
    "canned.delete": "Deleted a canned response",
    "contact.create": "Added a contact",
    "contact.update": "Changed a contact",
    "contact.merge": "Merged two contacts",
    "contact.opt_in": "Recorded a contact's consent",
    "contact.opt_out": "Recorded a contact's opt-out",
    "contact.declined": "Recorded that a contact declined consent",
    "contact_attribute.define": "Added a contact attribute",
    "contact_attribute.update": "Changed a contact attribute",
    "contact_attribute.delete": "Deleted a contact attribute",
    "contact_list.create": "Created a contact list",
    "contact_list.add_members": "Added contacts to a list",
    "contact_list.remove_member": "Removed a contact from a list",
    "contacts.export": "Downloaded all contacts",
    "contacts.import.start": "Started a contact import",
    "contacts.import.cancel": "Cancelled a contact import",
    "contacts.import.succeeded": "A contact import finished",
    "contacts.import.failed": "A contact import failed",
    "contacts.import.cancelled": "A contact import was cancelled",
    "orders.import": "Imported orders",
    "orders.import.start": "Started an order import",
    "orders.import.succeeded": "An order import finished",
    "orders.import.failed": "An order import failed",
    "orders.import.cancelled": "An order import was cancelled",
    "order.create": "Added an order",
    "event_template.set": "Chose the template of a transactional event",
    "intelligence.score": "Scored the contacts' predictions",
    "intelligence.uplift_score": "Trained the uplift model and scored the contacts",
    "intents.train": "Trained an intent model",
    "intents.activate": "Made an intent model the active one",
    "intents.rollback": "Went back to the previous intent model",
    "knowledge.ingest": "Added a document to the knowledge base",
    "knowledge.delete": "Removed a document from the knowledge base",
    "message.send": "Sent a text",
    "message.cancel": "Cancelled a queued text",
    "provider_account.rate": "Set a provider account's sending rate",
    "segment.create": "Created a segment",
    "segment.update": "Changed a segment",
    "segment.delete": "Deleted a segment",
    "sender.create": "Added a sender",
    "sender.update": "Changed a sender",
    "suppression.add": "Added a number to the suppression list",
    "suppression.remove": "Removed a number from the suppression list",
    "team.create": "Created a team",
    "team.member.add": "Added an agent to a team",
    "template.create": "Created a template",
    "template.update": "Changed a template",
    "template.delete": "Deleted a template",
    "variant.approve": "Approved a variant as a template",
    "variant.edit": "Edited a variant",
    "variant.reject": "Rejected a variant",
    "conversation.assign": "Conversation: assigned",
    "conversation.reply": "Conversation: replied",
    "conversation.note": "Conversation: added a note",
    "conversation.transfer": "Conversation: transferred",
    "conversation.handback": "Conversation: handed back to the bot",
    "conversation.close": "Conversation: closed",
}

#: Areas of the "What" filter whose code does not say it ("Canned: every action", "Auth: every action").
AREAS: dict[str, str] = {
    "auth": "Log-in and two-factor",
    "canned": "Canned responses",
    "event": "Transactional events",
    "intelligence": "Predictions",
    "intents": "Intent models",
    "job": "Failed jobs",
    "keys": "Encryption keys",
    "knowledge": "Knowledge base",
    "push": "Notifications",
}

#: Actors that are not a person or a key, as the log names them (``actor_type``).
ACTOR_KINDS: dict[str, str] = {
    "system": "Relais (automatic)",
    "cli": "Server command line",
    "anonymous": "Someone not logged in",
}

#: Console pages of the targets that have one.
PAGES: dict[str, str] = {
    "campaign": "/console/campaigns/{}",
    "contact": "/console/contacts/{}",
    "conversation": "/console/conversations/{}",
    "template": "/console/templates/{}",
    "segment": "/console/segments/{}",
    "contact_import": "/console/imports/{}",
}

LONGEST_VALUE = 120  # characters of one changed value shown; the CSV export has them whole
#: changed fields that hold a user id, in words: "assigned user id: 2 → 5" named nobody a reader knows
USER_FIELDS = {"assigned_user_id": "assigned to"}


def words(text: str) -> str:
    """``contact_list`` -> ``contact list``; ``api_key`` -> ``API key``."""
    spaced = text.replace("_", " ").replace("2fa", "two-factor").replace("apikey", "API key")
    return spaced.replace("api key", "API key")


def _capital(text: str) -> str:
    """The first letter up, the rest as written: ``str.capitalize`` made "API key" "Api key"."""
    return text[:1].upper() + text[1:]


def action_text(action: str) -> str:
    """What was done, in words: the table's, else the area and the verb ("Campaign: pause")."""
    if action in ACTIONS:
        return ACTIONS[action]
    area, _, verb = action.partition(".")
    area_words = _capital(words(area))
    return f"{area_words}: {words(verb).replace('.', ' ')}" if verb else area_words


def area_text(area: str) -> str:
    """An action's area (``contact_list``) for the filter's groups."""
    return AREAS.get(area) or _capital(words(area))


@dataclass(frozen=True)
class Entry:
    """One audit row as a person reads it."""

    row: AuditEntry
    who: str
    who_filter: str  # the page's "Who" value for this actor ("user:3", "system:")
    what: str
    on: str  # what it was done to, in words ("" when nothing in particular)
    on_link: str  # its console page, when it has one
    changes: list[str]


#: values JSON would write as codes: "status: null → online", "totp enabled: true → false"
PLAIN_VALUES: dict[Any, str] = {None: "not set", True: "yes", False: "no"}


def _value(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return PLAIN_VALUES[value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ", ".join(value) or "none"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def _user(value: Any, emails: dict[int, str]) -> str:
    """A user id as the page names it: the e-mail, "nobody" for none, else "user #3"."""
    if value is None:
        return "nobody"
    return emails.get(value, f"user #{value}") if isinstance(value, int) else _value(value)


#: details whose value is itself a list: two event types ["conversation.escalated", "conversation.closed"] read as a
#: change from one to the other
LIST_FIELDS = {"event_types", "skills", "languages"}


def _listed(field: str, value: list[Any]) -> bool:
    """``value`` is the list a :data:`LIST_FIELDS` detail holds, not an ``[old, new]`` pair of lists."""
    return field in LIST_FIELDS and not any(isinstance(v, list) or v is None for v in value)


def changes_text(diff: dict[str, Any] | None, emails: dict[int, str] | None = None) -> list[str]:
    """Each changed field as ``field: old → new``, other details as ``field: value``; user ids in
    :data:`USER_FIELDS` by the e-mails in ``emails``."""
    lines = []
    for field, value in (diff or {}).items():
        if field in USER_FIELDS:
            shown = [_user(v, emails or {}) for v in (value if isinstance(value, list) else [value])]
            lines.append(f"{USER_FIELDS[field]}: {' → '.join(shown)}")
        elif field == "language":  # "French", not "fr"
            shown = [language_name(v) for v in (value if isinstance(value, list) else [value])]
            lines.append(f"language: {' → '.join(shown)}")
        elif isinstance(value, list) and len(value) == 2 and not _listed(field, value):
            lines.append(f"{words(field)}: {_value(value[0])} → {_value(value[1])}")
        else:
            lines.append(f"{words(field)}: {_value(value)}")
    return lines


def _changed_users(rows: Iterable[AuditEntry]) -> set[tuple[str, str]]:
    """The users the rows' :data:`USER_FIELDS` changes name, as ``("user", id)`` targets to look up."""
    found = set()
    for row in rows:
        for field in USER_FIELDS:
            value = (row.diff or {}).get(field)
            found |= {("user", str(v)) for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)}
    return found


def actor_text(actor_type: str, actor_name: str, actor_id: str) -> str:
    """Who acted: a user's e-mail, "API key “name”", or what kind of actor it was."""
    if actor_type == "user":
        return actor_name or f"User #{actor_id}"
    if actor_type == "api_key":
        return f"API key “{actor_name}”" if actor_name else f"API key #{actor_id}"
    if actor_type == "cli" and actor_id not in ("", "relais-cli"):  # the OS account (cli.actor); older rows name none
        return f"{ACTOR_KINDS['cli']} ({actor_id})"
    return ACTOR_KINDS.get(actor_type, actor_name or actor_type)


def actors_text(session: Session, actors: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each ``(actor_type, actor_id)`` as :func:`actor_text` says it, the users' e-mails and keys' names looked up
    (the contact page's consent history read "user" for the marketer whose import recorded an opt-in)."""
    actors = set(actors)
    emails, names = _names(session, actors)
    known = {"user": {("user", i): email for i, email in emails.items()}, "api_key": names}
    return {(kind, ident): actor_text(kind, known.get(kind, {}).get((kind, int(ident)), "") if ident.isdigit() else "",
                                      ident)
            for kind, ident in actors}


def _names(
    session: Session, targets: Iterable[tuple[str, str]]
) -> tuple[dict[int, str], dict[tuple[str, int], str]]:
    """The e-mails of the users among ``targets``, and the names of the keys and the addresses of the webhooks by
    ``(kind, id)`` (a webhook read "webhook subscription 3", which no admin knows it by): three lookups in all."""
    targets = list(targets)

    def ids(wanted: str) -> set[int]:
        return {int(i) for kind, i in targets if kind == wanted and i.isdigit()}

    emails = {i: email for i, email in session.execute(select(User.id, User.email).where(User.id.in_(ids("user"))))}
    keys = session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(ids("api_key"))))
    hooks = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.url).where(
            WebhookSubscription.id.in_(ids("webhook_subscription"))
        )
    )
    names = {("api_key", i): name for i, name in keys}
    names.update({("webhook_subscription", i): url for i, url in hooks})
    return emails, names


def readable(session: Session, rows: Iterable[AuditEntry]) -> list[Entry]:
    """The rows in words; the users and keys they concern are named by e-mail and by name."""
    rows = list(rows)
    emails, names = _names(session, [(r.target_type, r.target_id) for r in rows] + list(_changed_users(rows)))
    entries = []
    for row in rows:
        on, link = _target(row.target_type, row.target_id, emails, names)
        entries.append(
            Entry(
                row=row,
                who=actor_text(row.actor_type, row.actor_name, row.actor_id),
                who_filter=f"{row.actor_type}:{row.actor_id if row.actor_type in ('user', 'api_key') else ''}",
                what=action_text(row.action),
                on=on,
                on_link=link,
                changes=changes_text(row.diff, emails),
            )
        )
    return entries


def target_text(session: Session, kind: str, ident: str) -> str:
    """What ``kind`` ``ident`` is, in words ("user ana@example.com", "campaign 7")."""
    emails, names = _names(session, [(kind, ident)])
    return _target(kind, ident, emails, names)[0]


def _target(kind: str, ident: str, emails: dict[int, str], names: dict[tuple[str, int], str]) -> tuple[str, str]:
    if not kind:
        return "", ""
    known = int(ident) if ident.isdigit() else None
    if kind == "user" and known in emails:
        return f"user {emails[known]}", ""
    named = names.get((kind, known)) if known is not None else None
    if kind == "api_key" and named is not None:
        return f"API key “{named}”", ""
    if kind == "webhook_subscription" and named is not None:
        return f"webhook to {named}", f"/console/webhooks/{known}/deliveries"
    page = PAGES.get(kind)
    return f"{words(kind)} {ident}".strip(), page.format(ident) if page and known is not None else ""
