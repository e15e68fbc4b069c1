"""Users, API keys and console sessions: the database side of authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import ApiKey, ConsoleSession, User
from core.rbac import Role, parse_role
from core.security import passwords, tokens

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    kind: str  # "user" | "api_key"
    id: int
    name: str
    role: Role

    def actor(self, *, ip: str = "", request_id: str = "") -> audit.Actor:
        return audit.Actor(type=self.kind, id=str(self.id), name=self.name, ip=ip, request_id=request_id)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone-aware columns
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_user(session: Session, *, email: str, password: str, role: str, name: str = "") -> User:
    """Create a console user; raises ``ValidationFailed`` / ``Conflict`` with the reason."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("email is not an e-mail address", errors=[{"field": "email"}])
    try:
        parsed = parse_role(role)
        pw_hash = passwords.hash_password(password)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name or email.split("@")[0], role=parsed.value, password_hash=pw_hash)
    session.add(user)
    session.flush()
    return user


def needs_second_factor(user: User, roles_requiring_2fa: frozenset[str]) -> bool:
    return user.totp_confirmed or user.role in roles_requiring_2fa


def create_api_key(session: Session, *, name: str, role: str, created_by: int | None = None) -> tuple[ApiKey, str]:
    """Create a key; the full secret is returned once and only its hash is stored."""
    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    lookup, secret = tokens.new_api_key()
    key = ApiKey(name=name, role=parsed.value, prefix=lookup, key_hash=tokens.digest(secret), created_by=created_by)
    session.add(key)
    session.flush()
    return key, secret


def revoke_api_key(session: Session, *, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def key_suspension(creator: User | None) -> str:
    """Why a key an admin made does not work now, in words ('' when it works).

    A key carries its creator's authority: it stops while they are deactivated, or no longer an
    admin (only admins hand out keys, so an admin demoted to marketer keeps no admin key), and
    works again if they are reactivated or made admin again. Keys made with the CLI have no creator.
    """
    if creator is None:
        return ""
    if not creator.is_active:
        return f"{creator.email} who created it is deactivated"
    if creator.role != Role.ADMIN.value:
        return f"{creator.email} who created it is no longer an admin"
    return ""


def principal_from_api_key(session: Session, secret: str) -> Principal | None:
    lookup = tokens.split_api_key(secret)
    if lookup is None:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == lookup))
    if key is None or key.revoked_at is not None or not tokens.matches(secret, key.key_hash):
        return None
    if key.created_by is not None and key_suspension(session.get(User, key.created_by)):
        return None
    now = utcnow()
    if key.last_used_at is None or now - _aware(key.last_used_at) > timedelta(minutes=1):
        key.last_used_at = now  # coarse on purpose: one write a minute, not one per request
        session.flush()
    return Principal(kind="api_key", id=key.id, name=key.name, role=Role(key.role))


def open_console_session(session: Session, *, user: User, verified: bool) -> tuple[ConsoleSession, str]:
    token = tokens.new_session_token()
    row = ConsoleSession(
        token_hash=tokens.digest(token),
        user_id=user.id,
        csrf_token=tokens.new_session_token(),
        verified=verified,
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row, token


def signed_in(now: datetime) -> Select[int]:
    """The users at a console at ``now``: a live session past its second factor. Routing gives conversations only
    to them: an agent an admin logged out (role change, 2FA reset, ended sessions) or whose session lapsed stayed
    "online" and was given conversations nobody read."""
    return select(ConsoleSession.user_id).where(ConsoleSession.verified.is_(True), ConsoleSession.expires_at > now)


def renew_console_token(session: Session, row: ConsoleSession) -> str:
    """A new secret for a session whose privilege just rose (the second factor given): a token
    seen or planted before that step no longer opens the verified session (ASVS 3.2.1). The row,
    its CSRF token and its expiry stay, so a client holding the CSRF token keeps working."""
    token = tokens.new_session_token()
    row.token_hash = tokens.digest(token)
    session.flush()
    return token


def find_console_session(session: Session, token: str) -> tuple[ConsoleSession, User] | None:
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == tokens.digest(token)))
    if row is None or _aware(row.expires_at) < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user


def close_console_session(session: Session, token: str) -> User | None:
    """End the browser session this cookie token opened; its user (for the audit log), None if there was none."""
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == tokens.digest(token)))
    if row is None:
        return None
    session.delete(row)
    session.flush()
    return session.get(User, row.user_id)
