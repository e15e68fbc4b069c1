"""Request dependencies: the database session (the one commit point) and authorisation.

Every route declares its roles with ``Depends(require(...))``; ``admin`` may call every route.
A test walks the route table and proves each role gets exactly the routes declared for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core import accounts, db
from core.accounts import Principal
from core.audit import Actor
from core.errors import Forbidden, Unauthorized
from core.rbac import Role

SESSION_COOKIE = "relais_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session() -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises (jobs queued meanwhile go after commit).

    Always used as ``Depends(db_session, scope="function")``: FastAPI then commits *before* the
    response is sent, so a client never sees success for data that is not yet (or never) stored.
    """
    with db.session_scope() as session:
        yield session


def optional_principal(request: Request, session: Session = Depends(db_session, scope="function")) -> Principal | None:
    """The caller from a bearer API key or a verified console session cookie (CSRF-checked)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        principal = accounts.principal_from_api_key(session, token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = accounts.find_console_session(session, cookie)
    if found is None or not found[0].verified:
        return None
    console_session, user = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or request.query_params.get("csrf_token", "")
        if sent != console_session.csrf_token:
            raise Forbidden("missing or wrong CSRF token")
    request.state.csrf_token = console_session.csrf_token
    return Principal(kind="user", id=user.id, name=user.email, role=Role(user.role))


@dataclass(frozen=True)
class RoleGuard:
    """A dependency allowing ``roles`` (and ``admin``); kept as an object so tests can read it."""

    roles: frozenset[Role]

    def __call__(self, principal: Principal | None = Depends(optional_principal)) -> Principal:
        if principal is None:
            raise Unauthorized("authentication required: a bearer API key or a console session")
        if principal.role is not Role.ADMIN and principal.role not in self.roles:
            raise Forbidden(f"role {principal.role.value!r} may not do this")
        return principal


def require(*roles: Role) -> RoleGuard:
    """Allow these roles (``admin`` always may)."""
    return RoleGuard(frozenset(roles))


def actor(request: Request, principal: Principal) -> Actor:
    """The audit actor for this request."""
    ip = request.client.host if request.client else ""
    return principal.actor(ip=ip, request_id=getattr(request.state, "request_id", ""))
