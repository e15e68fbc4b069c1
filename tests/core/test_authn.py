"""core.authn against a real database and Redis: a TOTP code raced by two requests wins once."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from core import accounts, authn, db
from core.models import AuditEntry, User
from core.redis import get_redis
from core.security import totp
from core.security.throttle import Throttle
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
