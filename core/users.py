"""The life of a console user after creation: change their role, deactivate, reactivate, reset the
password or the second factor, end their sessions. The API, the CLI and the console all call these functions, and
each records its audit row, so every path leaves the same trail.

Sessions are rows in ``console_sessions`` (the cookie holds a token whose hash is stored), so
ending them is deleting the rows: the next request with that cookie is anonymous. A deactivated
user cannot log in, and the API keys they created stop working until they are reactivated.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import ConsoleSession, User
from core.rbac import Role
from core.security import passwords


def get_user(session: Session, user_id: int) -> User:
    """The user with this id; raises ``NotFound``."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def set_password(user: User, password: str) -> None:
    """Hash and store a new password; raises ``ValidationFailed`` naming the field when too short."""
    try:
        user.password_hash = passwords.hash_password(password)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "password", "message": str(exc)}]) from None


def end_sessions(session: Session, *, user: User, keep_session_id: int | None = None) -> int:
    """Delete the user's console sessions (but ``keep_session_id``); returns how many ended."""
    stmt = delete(ConsoleSession).where(ConsoleSession.user_id == user.id)
    if keep_session_id is not None:
        stmt = stmt.where(ConsoleSession.id != keep_session_id)
    ended = session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]
    session.flush()
    return int(ended)


def _record(session: Session, actor: audit.Actor, action: str, user: User, **diff: object) -> None:
    audit.record(session, actor=actor, action=action, target_type="user", target_id=user.id, diff=diff)


def revoke_sessions(session: Session, *, user_id: int, actor: audit.Actor) -> int:
    """Log the user out everywhere; returns how many sessions ended."""
    user = get_user(session, user_id)
    ended = end_sessions(session, user=user)
    _record(session, actor, "user.sessions.revoke", user, sessions_ended=ended)
    return ended


def _not_yourself(user: User, actor: audit.Actor, doing: str) -> None:
    # an admin who deactivates or demotes themself locks themself out at once: another admin must
    if actor.type == "user" and actor.id == str(user.id):
        raise Conflict(f"you cannot {doing}; another admin can, so nobody locks themself out by accident")


def _keeps_an_admin(session: Session, user: User, doing: str) -> None:
    # nobody could manage users, keys or the audit log any more
    if user.is_active and user.role == Role.ADMIN.value:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        )
        if (admins or 0) <= 1:
            raise Conflict(f"{user.email} is the last active admin and cannot be {doing}; make another admin first")


def deactivate(session: Session, *, user_id: int, actor: audit.Actor) -> User:
    """Stop the user logging in, end their sessions and suspend the API keys they created.

    Raises:
        NotFound: no such user.
        Conflict: they are the last active admin (nobody could manage users any more), or the
            admin acting is deactivating themself.
    """
    user = get_user(session, user_id)
    _not_yourself(user, actor, "deactivate yourself")
    _keeps_an_admin(session, user, "deactivated")
    was_active = user.is_active
    user.is_active = False
    ended = end_sessions(session, user=user)
    _record(session, actor, "user.deactivate", user, is_active=[was_active, False], sessions_ended=ended)
    return user


def change_role(session: Session, *, user_id: int, role: Role, actor: audit.Actor) -> User:
    """Give the user another role; their sessions end, so their next log-in brings the new role's
    pages and, when it needs one (``RELAIS_REQUIRE_2FA_ROLES``), the second factor. An admin made
    something else suspends the API keys they created (``core.accounts.key_suspension``).

    Raises:
        NotFound: no such user.
        Conflict: demoting the last active admin, or the admin acting demoting themself.
    """
    user = get_user(session, user_id)
    if user.role == role.value:
        return user
    if role is not Role.ADMIN:
        _not_yourself(user, actor, "change your own role")
        _keeps_an_admin(session, user, f"made {role.value}")
    before = user.role
    user.role = role.value
    ended = end_sessions(session, user=user)
    _record(session, actor, "user.role.change", user, role=[before, role.value], sessions_ended=ended)
    return user


def reactivate(session: Session, *, user_id: int, actor: audit.Actor) -> User:
    """Let the user log in again (their API keys work again too)."""
    user = get_user(session, user_id)
    was_active = user.is_active
    user.is_active = True
    session.flush()
    _record(session, actor, "user.reactivate", user, is_active=[was_active, True])
    return user


def reset_password(session: Session, *, user_id: int, password: str, actor: audit.Actor) -> User:
    """An administrator sets a temporary password (given to the user out of band); sessions end, and
    the user must choose their own password before doing anything else."""
    user = get_user(session, user_id)
    set_password(user, password)
    user.password_must_change = True
    ended = end_sessions(session, user=user)
    _record(session, actor, "user.password.reset", user, sessions_ended=ended)
    return user


def reset_second_factor(session: Session, *, user_id: int, actor: audit.Actor) -> User:
    """Remove the user's authenticator and recovery codes (lost phone); sessions end.

    At the next log-in a user whose role requires 2FA enrols a new authenticator.
    """
    user = get_user(session, user_id)
    had = user.totp_confirmed
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_step = None
    user.recovery_codes = []
    user.pending_recovery_codes = []
    ended = end_sessions(session, user=user)
    _record(session, actor, "user.2fa.reset", user, totp_enabled=[had, False], sessions_ended=ended)
    return user
