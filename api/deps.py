"""Request dependencies: the database session (the one commit point) and authorisation.

Every route declares its roles with ``Depends(require(...))``; ``admin`` may call every route.
A test walks the route table and proves each role gets exactly the routes declared for it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from core import accounts, audit, db
from core.accounts import Principal
from core.audit import Actor
from core.authn import Client, Refused
from core.errors import Forbidden, PasswordChangeRequired, Unauthorized
from core.rbac import Role
from core.redis import get_redis
from core.security.throttle import Throttle

SESSION_COOKIE = "relais_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# what a user holding a temporary password may still reach: the change itself, who am I, log out
PASSWORD_CHANGE_PATHS = frozenset(
    {"/api/v1/auth/password", "/api/v1/auth/me", "/api/v1/auth/logout", "/console/password"}
)


def db_session() -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises (jobs queued meanwhile go after commit).

    Always used as ``Depends(db_session, scope="function")``: FastAPI then commits *before* the
    response is sent, so a client never sees success for data that is not yet (or never) stored.
    """
    with db.session_scope() as session:
        try:
            yield session
        except Refused:
            session.commit()  # a refused log-in keeps its audit rows: the evidence of an attack
            raise


async def raw_body(request: Request) -> bytes:
    """The request's body, read on the event loop (reading waits on the client), for a plain ``def`` route.

    A route that reads its body itself must be ``async def``, and then its database, Redis and DNS calls run on the
    event loop: while one waited, every other request of the process (``/healthz`` included) waited too. Taking the
    body from this dependency lets the route stay a ``def``, which FastAPI runs in its threadpool.
    """
    return await request.body()


async def posted_form(request: Request) -> FormData:
    """The request's form (urlencoded or multipart), read on the event loop, for a plain ``def`` route: see
    :func:`raw_body`. Starlette keeps it on the request, so a route's ``Form`` fields read the same parse."""
    return await request.form()


def optional_principal(request: Request, session: Session = Depends(db_session, scope="function")) -> Principal | None:
    """The caller from a bearer API key or a verified console session cookie (CSRF-checked)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        principal = accounts.principal_from_api_key(session, token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        request.state.principal = principal  # read by the console's 403 page (api.console.forbidden_page)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = accounts.find_console_session(session, cookie)
    if found is None or not found[0].verified:
        return None
    console_session, user = found
    if request.method not in SAFE_METHODS:
        # the header only: a token in the URL would leak through logs, history and Referer
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), console_session.csrf_token.encode()):
            raise Forbidden("missing or wrong CSRF token")
    request.state.csrf_token = console_session.csrf_token
    request.state.principal = Principal(kind="user", id=user.id, name=user.email, role=Role(user.role))
    if user.password_must_change and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired(
            "you are using a temporary password: choose your own first (POST /api/v1/auth/password)"
        )
    return request.state.principal


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
    origin = client(request)
    return principal.actor(ip=origin.ip, request_id=origin.request_id)


@dataclass(frozen=True)
class Acting:
    """A person's change through a route: the request, its session, who acts, and how the audit names them.

    One dependency (:func:`acting`) instead of the request, session and principal each route that
    changes state would otherwise declare, and one ``audit`` call in place of spelling the actor out.
    """

    request: Request
    session: Session
    principal: Principal
    actor: Actor

    def audit(self, action: str, target_type: str, target_id: str | int, diff: Mapping[str, Any] | None = None) -> None:
        """Record this change in the audit log (``core.audit.record``)."""
        audit.record(self.session, actor=self.actor, action=action, target_type=target_type, target_id=target_id,
                     diff=diff)


def acting(*roles: Role) -> Any:
    """``Depends`` giving an :class:`Acting` for these roles (``admin`` always may), in the request's transaction."""
    guard = require(*roles)

    def dependency(request: Request, session: Session = Depends(db_session, scope="function"),
                   principal: Principal = Depends(guard)) -> Acting:
        return Acting(request, session, principal, actor(request, principal))

    return Depends(dependency)


def client(request: Request) -> Client:
    """Where this request comes from, for throttling and auditing authentication attempts."""
    return Client(ip=request.client.host if request.client else "", request_id=getattr(request.state, "request_id", ""))


def throttle(request: Request) -> Throttle:
    """The brute-force throttle, in the Redis every replica shares."""
    return Throttle(get_redis(request.app.state.settings))
