"""Proving who you are: password log-in, the second factor, (re-)enrolling it, changing a password.

Every check here is throttled per account, per client IP and per user's second factor
(``core.security.throttle``), costs the same argon2 work whether or not the account exists, and
leaves an audit row when it fails or starts a lockout. A failure raises :class:`Refused`; the
request's database session commits the audit rows of a refusal (``api.deps.db_session``), so the
evidence of an attack is kept although the request fails. Passwords and codes are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core import audit, users
from core.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from core.models import User
from core.security import passwords, totp
from core.security.throttle import ACCOUNT, CLIENT_IP, SECOND_FACTOR, Policy, Throttle

WRONG_PASSWORD = "wrong e-mail or password"
WRONG_CODE = "wrong or expired code"


class Refused(Unauthorized):
    """An authentication attempt failed; its audit rows are committed with the refusal."""


@dataclass(frozen=True)
class Client:
    """Where an attempt comes from (for throttling and the audit log)."""

    ip: str
    request_id: str = ""


def _actor(client: Client, user: User | None) -> audit.Actor:
    if user is None:
        return audit.Actor(type="anonymous", id="anonymous", ip=client.ip, request_id=client.request_id)
    return audit.Actor(type="user", id=str(user.id), name=user.email, ip=client.ip, request_id=client.request_id)


def _refuse_if_locked(throttle: Throttle, subjects: list[tuple[Policy, str]]) -> None:
    wait = max(throttle.locked_for(policy, subject) for policy, subject in subjects)
    if wait:
        raise TooManyRequests(f"too many failed attempts; try again in {wait} s", retry_after=wait)


def _claim(throttle: Throttle, subjects: list[tuple[Policy, str]]) -> None:
    """Claim this attempt on every subject before any credential is checked (``Throttle.claim``): refused
    while one is locked, or while attempts in flight take the failures it has left. The caller ends the
    claim with :func:`_fail` or :func:`_release`."""
    _refuse_if_locked(throttle, subjects)
    claimed: list[tuple[Policy, str]] = []
    for policy, subject in subjects:
        wait = throttle.claim(policy, subject)
        if wait:
            _release(throttle, claimed)
            raise TooManyRequests(f"too many failed attempts; try again in {wait} s", retry_after=wait)
        claimed.append((policy, subject))


def _release(throttle: Throttle, subjects: list[tuple[Policy, str]]) -> None:
    for policy, subject in subjects:
        throttle.release(policy, subject)


def _fail(
    session: Session,
    throttle: Throttle,
    *,
    client: Client,
    user: User | None,
    action: str,
    reason: str,
    subjects: list[tuple[Policy, str]],
    detail: str,
) -> Refused:
    """Count the failure against each subject, audit it and any lockout it starts; the caller raises."""
    actor = _actor(client, user)
    target = user.id if user is not None else ""
    audit.record(session, actor=actor, action=action, target_type="user", target_id=target, diff={"reason": reason})
    for policy, subject in subjects:
        seconds = throttle.fail(policy, subject)
        if seconds:
            audit.record(
                session,
                actor=actor,
                action="auth.lockout",
                target_type="user",
                target_id=target,
                diff={"scope": policy.name, "seconds": seconds},
            )
    return Refused(detail)


def _normalise(email: str) -> str:
    return email.strip().lower()


def log_in(session: Session, throttle: Throttle, *, email: str, password: str, client: Client) -> User:
    """The active user with this e-mail and password.

    Raises:
        TooManyRequests: the account or the client IP is locked (nothing is checked then).
        Refused: unknown account, wrong password or deactivated user, all with the same text.
    """
    account = _normalise(email)
    subjects = [(ACCOUNT, account), (CLIENT_IP, client.ip)]
    _claim(throttle, subjects)
    user = session.scalar(select(User).where(User.email == account))
    matches = passwords.verify_password_or_dummy(user.password_hash if user else None, password)
    if user is None or not matches or not user.is_active:
        reason = "unknown account" if user is None else "wrong password" if not matches else "deactivated user"
        raise _fail(
            session,
            throttle,
            client=client,
            user=user,
            action="auth.login.failed",
            reason=reason,
            subjects=subjects,
            detail=WRONG_PASSWORD,
        )
    throttle.reset(ACCOUNT, account)
    _release(throttle, subjects)
    return user


def _accept_pending(user: User, code: str) -> bool:
    """Make the pending enrolment the user's factor if ``code`` comes from it."""
    if user.totp_pending_secret is None:
        return False
    step = totp.matching_step(user.totp_pending_secret, code)
    if step is None:
        return False
    user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
    user.recovery_codes, user.pending_recovery_codes = user.pending_recovery_codes, []
    user.totp_last_step = step
    return True


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Record ``step`` as the user's last accepted one, unless another request got there first.

    A conditional UPDATE rather than a read-then-write: two requests racing with the same code
    (or a later one) cannot both be accepted.
    """
    result = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _accept(session: Session, user: User, code: str) -> str | None:
    """How ``code`` proves the factor ("totp", "recovery_code", "enrolment"), spending it; else ``None``."""
    if user.totp_secret is None:
        return "enrolment" if _accept_pending(user, code) else None
    step = totp.matching_step(user.totp_secret, code, after=user.totp_last_step)
    if step is not None:
        return "totp" if _claim_step(session, user, step) else None
    # the codes as stored now, the row locked until this request ends (PostgreSQL; SQLite has one
    # writer): two requests racing with one recovery code cannot both spend it
    stored = session.execute(select(User.recovery_codes).where(User.id == user.id).with_for_update()).scalar_one()
    remaining = totp.consume_recovery_code(list(stored or []), code)
    if remaining is not None:
        user.recovery_codes = remaining
        return "recovery_code"
    return None


def _why_wrong(user: User, code: str) -> str:
    if user.totp_secret and totp.matching_step(user.totp_secret, code) is not None:
        return "replayed code"
    return "wrong code"


def second_factor(session: Session, throttle: Throttle, *, user: User, code: str, client: Client) -> str:
    """Check a TOTP code (each time step once) or spend a recovery code; a user who has no factor
    yet confirms their pending enrolment with its first code. Returns how the factor was proved.

    Raises:
        TooManyRequests: the user's second factor or the client IP is locked.
        Refused: wrong, expired or already used code.
    """
    subjects = [(SECOND_FACTOR, str(user.id)), (CLIENT_IP, client.ip)]
    _claim(throttle, subjects)
    method = _accept(session, user, code)
    if method is None:
        raise _fail(
            session,
            throttle,
            client=client,
            user=user,
            action="auth.2fa.failed",
            reason=_why_wrong(user, code),
            subjects=subjects,
            detail=WRONG_CODE,
        )
    session.flush()
    throttle.reset(SECOND_FACTOR, str(user.id))
    _release(throttle, subjects)
    return method


def start_enrolment(
    session: Session,
    throttle: Throttle,
    *,
    user: User,
    client: Client,
    password: str | None = None,
    code: str | None = None,
) -> totp.TotpEnrolment:
    """A new pending TOTP secret and recovery codes; the current factor keeps working until a code
    from the new one confirms it (:func:`confirm_enrolment`).

    A user who already has a factor must give their password and a current code (TOTP or recovery
    code): a stolen session or password alone cannot replace the factor. An administrator's reset
    (``core.users.reset_second_factor``) is the way back for someone who lost both.

    Raises:
        ValidationFailed: the user has a factor and the password or the code is missing.
        TooManyRequests / Refused: the password or the code is wrong (throttled like a log-in).
    """
    if user.totp_secret is not None:
        if not password or not code:
            missing = [name for name, value in (("password", password), ("code", code)) if not value]
            raise ValidationFailed(
                "give your password and a current code (or a recovery code) to replace your factor",
                errors=[{"field": name, "message": "required to replace an enrolled factor"} for name in missing],
            )
        subjects = [(ACCOUNT, user.email), (CLIENT_IP, client.ip)]
        _refuse_if_locked(throttle, [(SECOND_FACTOR, str(user.id))])  # before the password: a 429 after it would tell
        _claim(throttle, subjects)
        if not passwords.verify_password(user.password_hash, password):
            raise _fail(
                session,
                throttle,
                client=client,
                user=user,
                action="auth.2fa.enrol.failed",
                reason="wrong password",
                subjects=subjects,
                detail=WRONG_PASSWORD,
            )
        _release(throttle, subjects)
        second_factor(session, throttle, user=user, code=code, client=client)
    enrolment = totp.new_enrolment(user.email)
    user.totp_pending_secret = enrolment.secret
    user.pending_recovery_codes = totp.hash_recovery_codes(enrolment.recovery_codes)
    session.flush()
    return enrolment


def confirm_enrolment(
    session: Session,
    throttle: Throttle,
    *,
    user: User,
    code: str,
    client: Client,
    keep_session_id: int | None = None,
) -> int:
    """Replace the user's factor with the pending one, given a code from the new authenticator; the
    user's other sessions end (ASVS 3.3.3). Returns how many ended.

    Raises:
        Conflict: no enrolment is waiting.
        TooManyRequests / Refused: as for :func:`second_factor`.
    """
    if user.totp_pending_secret is None:
        raise Conflict("no new authenticator is waiting for confirmation; start an enrolment first")
    subjects = [(SECOND_FACTOR, str(user.id)), (CLIENT_IP, client.ip)]
    _claim(throttle, subjects)
    if not _accept_pending(user, code):
        raise _fail(
            session,
            throttle,
            client=client,
            user=user,
            action="auth.2fa.failed",
            reason="wrong code for the new authenticator",
            subjects=subjects,
            detail=WRONG_CODE,
        )
    session.flush()
    throttle.reset(SECOND_FACTOR, str(user.id))
    _release(throttle, subjects)
    return users.end_sessions(session, user=user, keep_session_id=keep_session_id)


def change_password(
    session: Session,
    throttle: Throttle,
    *,
    user: User,
    current: str,
    new: str,
    client: Client,
    keep_session_id: int | None = None,
) -> None:
    """Set the user's own password after checking the current one; their other sessions end.

    Raises:
        ValidationFailed: the new password is too short.
        TooManyRequests / Refused: the current password is wrong (throttled like a log-in).
    """
    subjects = [(ACCOUNT, user.email), (CLIENT_IP, client.ip)]
    _claim(throttle, subjects)
    if not passwords.verify_password(user.password_hash, current):
        raise _fail(
            session,
            throttle,
            client=client,
            user=user,
            action="user.password.change.failed",
            reason="wrong current password",
            subjects=subjects,
            detail="the current password is wrong",
        )
    _release(throttle, subjects)
    users.set_password(user, new)
    user.password_must_change = False
    ended = users.end_sessions(session, user=user, keep_session_id=keep_session_id)
    actor = _actor(client, user)
    audit.record(
        session,
        actor=actor,
        action="user.password.change",
        target_type="user",
        target_id=user.id,
        diff={"sessions_ended": ended},
    )
