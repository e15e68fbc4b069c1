"""core.authn against a real database and Redis: a TOTP code raced by two requests wins once; guesses sent in
parallel cannot outrun the throttle."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import accounts, authn, db
from core.errors import TooManyRequests
from core.models import AuditEntry, User
from core.redis import get_redis
from core.security import totp
from core.security.throttle import ACCOUNT, CLIENT_IP, SECOND_FACTOR, Throttle
from core.settings import Settings


def test_a_code_used_by_a_concurrent_request_is_refused(runtime_any_db: Settings) -> None:
    secret = totp.new_enrolment("a@example.com").secret
    with db.session_scope() as session:
        user = accounts.create_user(session, email="a@example.com", password="long enough pw", role="agent")
        user.totp_secret = secret
        user_id = user.id
    code = pyotp.TOTP(secret).now()
    client = authn.Client(ip="192.0.2.1")
    throttle = Throttle(get_redis(runtime_any_db))
    with db.session_scope() as first:
        stale = first.get(User, user_id)
        assert stale is not None and stale.totp_last_step is None  # read before the other request wins
        with db.session_scope() as second:
            winner = second.get(User, user_id)
            assert winner is not None
            assert authn.second_factor(second, throttle, user=winner, code=code, client=client) == "totp"
        with pytest.raises(authn.Refused):
            authn.second_factor(first, throttle, user=stale, code=code, client=client)
        first.commit()  # as api.deps.db_session does for a refusal: the audit row stays
    with db.session_scope() as session:
        failed = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.2fa.failed")).one()
        assert failed.diff == {"reason": "replayed code"} and failed.ip == "192.0.2.1"


def test_a_recovery_code_spent_by_a_concurrent_request_is_refused(runtime_any_db: Settings) -> None:
    enrolment = totp.new_enrolment("b@example.com")
    with db.session_scope() as session:
        user = accounts.create_user(session, email="b@example.com", password="long enough pw", role="agent")
        user.totp_secret = enrolment.secret
        user.recovery_codes = totp.hash_recovery_codes(enrolment.recovery_codes)
        user_id = user.id
    code = enrolment.recovery_codes[0]
    client = authn.Client(ip="192.0.2.2")
    throttle = Throttle(get_redis(runtime_any_db))
    with db.session_scope() as first:
        stale = first.get(User, user_id)
        assert stale is not None and len(stale.recovery_codes) == 8  # read before the other request wins
        with db.session_scope() as second:
            winner = second.get(User, user_id)
            assert winner is not None
            assert authn.second_factor(second, throttle, user=winner, code=code, client=client) == "recovery_code"
        with pytest.raises(authn.Refused):
            authn.second_factor(first, throttle, user=stale, code=code, client=client)
        first.commit()
    with db.session_scope() as session:
        stored = session.get(User, user_id)
        assert stored is not None and len(stored.recovery_codes) == 7


def _in_parallel(
    owner: object, check: str, monkeypatch: pytest.MonkeyPatch, attempt: Callable[[Session, int], object]
) -> list[str]:
    """Twelve wrong guesses all in flight at once: each starts the next while its own credential is being
    checked (``owner.check`` is the function that checks it). Returns what each got."""
    real = getattr(owner, check)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        with db.session_scope() as session:
            try:
                attempt(session, n)
                outcomes.append("accepted")
            except authn.Refused:
                outcomes.append("checked and refused")
                session.commit()
            except TooManyRequests:
                outcomes.append("429")
                launch_next()  # refused at once: the next one arrives now

    def launch_next() -> None:
        if n_started[0] < 12:
            n_started[0] += 1
            guess(n_started[0])

    def checking(*args: object) -> object:
        launch_next()  # the next guess arrives while this one is being checked
        return real(*args)

    n_started = [1]
    monkeypatch.setattr(owner, check, checking)
    guess(1)
    return outcomes


def test_passwords_guessed_in_parallel_are_counted_before_they_are_checked(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:
        accounts.create_user(session, email="c@example.com", password="long enough pw", role="marketer")
    throttle = Throttle(get_redis(runtime))
    outcomes = _in_parallel(authn.passwords, "verify_password_or_dummy", monkeypatch, lambda session, n: authn.log_in(
        session, throttle, email="c@example.com", password=f"guess {n}", client=authn.Client(ip="192.0.2.3")))
    # five failures are allowed before the lockout; the checks of twelve simultaneous guesses used to run all twelve
    assert outcomes.count("checked and refused") == 5 and outcomes.count("429") == 7, outcomes
    assert throttle.locked_for(ACCOUNT, "c@example.com") > 0
    right = authn.log_in
    with db.session_scope() as session, pytest.raises(TooManyRequests):
        right(session, throttle, email="c@example.com", password="long enough pw", client=authn.Client(ip="192.0.2.4"))


def test_codes_guessed_in_parallel_are_counted_before_they_are_checked(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:
        user = accounts.create_user(session, email="d@example.com", password="long enough pw", role="agent")
        user.totp_secret = totp.new_enrolment("d@example.com").secret
        user_id = user.id
    throttle = Throttle(get_redis(runtime))

    def attempt(session: Session, n: int) -> object:
        user = session.get(User, user_id)
        assert user is not None
        return authn.second_factor(session, throttle, user=user, code=f"{n:06d}", client=authn.Client(ip="192.0.2.5"))

    outcomes = _in_parallel(authn, "_accept", monkeypatch, attempt)
    assert outcomes.count("checked and refused") == 5 and outcomes.count("429") == 7, outcomes
    assert throttle.locked_for(SECOND_FACTOR, str(user_id)) > 0


def test_a_success_ends_its_claim(runtime: Settings) -> None:
    """Attempts that succeed leave nothing in flight: an office's fifty log-ins from one address stay possible."""
    with db.session_scope() as session:
        accounts.create_user(session, email="e@example.com", password="long enough pw", role="marketer")
    throttle = Throttle(get_redis(runtime))
    for _ in range(CLIENT_IP.limit + 5):
        with db.session_scope() as session:
            authn.log_in(session, throttle, email="e@example.com", password="long enough pw",
                         client=authn.Client(ip="192.0.2.6"))  # fmt: skip
    assert throttle.claim(CLIENT_IP, "192.0.2.6") == 0 and throttle.claim(ACCOUNT, "e@example.com") == 0
