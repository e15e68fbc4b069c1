"""API keys for scripts and integrations: issue one (its secret shown once), list them with their
state, revoke one.

``POST|GET|DELETE /api/v1/apikeys``, the console's API keys page and ``relais apikey create`` call
these functions, and each records its audit row, so every path checks and leaves the same trail.
Relais keeps only a key's hash (``core.accounts.create_api_key``); what a key may do is its role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import accounts, audit
from core.errors import ValidationFailed
from core.models import ApiKey, User

NAME_MAX = 200


@dataclass(frozen=True)
class KeyState:
    """A key as an administrator reads it: who made it, and whether it works now and why not."""

    key: ApiKey
    creator: str  # the creator's e-mail; "" for a key made with the CLI
    state: str  # "active" | "suspended" | "revoked"
    why: str  # why a suspended key does not work, in words ("" otherwise)


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        message = "give the key a name you will recognise it by, e.g. the integration that uses it"
        raise ValidationFailed(message, errors=[{"field": "name", "message": message}])
    if len(cleaned) > NAME_MAX:
        message = f"a key's name has at most {NAME_MAX} characters"
        raise ValidationFailed(message, errors=[{"field": "name", "message": message}])
    return cleaned


def creator_for(session: Session, principal: accounts.Principal) -> int | None:
    """The admin a key issued by ``principal`` answers to (``created_by``): a console user themself; an API
    key the admin its own key answers to (``None`` for a key made with the CLI, as the CLI's own).

    A key made through another key used to take no creator, like the operator's, so it kept full access
    after the admin whose key made it was deactivated or demoted.
    """
    if principal.kind == "user":
        return principal.id
    parent = session.get(ApiKey, principal.id)
    return parent.created_by if parent is not None else None


def issue(
    session: Session, *, name: str, role: str, actor: audit.Actor, created_by: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key and audit it (``apikey.create``); returns the key and its secret, which is never
    stored and so can only be shown now.

    Args:
        created_by: the admin issuing it (the key stops working while they are deactivated or no
            longer an admin, ``core.accounts.key_suspension``); ``None`` for the operator's CLI.

    Raises:
        ValidationFailed: an empty or too long name, an unknown role (naming the field).
    """
    try:
        key, secret = accounts.create_api_key(session, name=_name(name), role=role, created_by=created_by)
    except ValidationFailed as exc:
        if exc.errors:
            raise
        raise ValidationFailed(exc.detail, errors=[{"field": "role", "message": exc.detail}]) from None
    audit.record(
        session,
        actor=actor,
        action="apikey.create",
        target_type="api_key",
        target_id=key.id,
        diff={"role": key.role, "label": key.name},
    )
    return key, secret


def revoke(session: Session, *, key_id: int, actor: audit.Actor) -> ApiKey:
    """Revoke a key for good: it is refused from the next request. Audited ``apikey.revoke`` when it
    was still unrevoked (revoking again changes nothing and records nothing).

    Raises:
        NotFound: no such key.
    """
    was_revoked = session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key_id)) is not None
    key = accounts.revoke_api_key(session, key_id=key_id)
    if not was_revoked:
        audit.record(
            session,
            actor=actor,
            action="apikey.revoke",
            target_type="api_key",
            target_id=key.id,
            diff={"role": key.role, "label": key.name},
        )
    return key


def listing(session: Session) -> list[KeyState]:
    """Every key, the unrevoked first and the newest first among them, with its creator and state."""
    keys = list(session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())))
    creator_ids = {k.created_by for k in keys if k.created_by is not None}
    creators = {u.id: u for u in session.scalars(select(User).where(User.id.in_(creator_ids)))} if creator_ids else {}
    states = []
    for key in keys:
        creator = creators.get(key.created_by) if key.created_by is not None else None
        why = accounts.key_suspension(creator)
        state = "revoked" if key.revoked_at is not None else ("suspended" if why else "active")
        states.append(
            KeyState(
                key=key, creator=creator.email if creator else "", state=state, why=why if state == "suspended" else ""
            )
        )
    return states


def created_by(session: Session, user_id: int) -> list[ApiKey]:
    """The unrevoked keys ``user_id`` created (they follow the user's suspension)."""
    stmt = select(ApiKey).where(ApiKey.created_by == user_id, ApiKey.revoked_at.is_(None)).order_by(ApiKey.id)
    return list(session.scalars(stmt))
