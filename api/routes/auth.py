"""Console log-in with optional/enforced TOTP, password and 2FA changes, API keys.

Log-in sets a secure, httponly, SameSite=Lax session cookie; the session is only *verified*
(usable) once the second factor is given when the user has one or their role requires one.
Unsafe requests made with the cookie must echo the session's CSRF token (``X-CSRF-Token``).
Log-in and codes are throttled and failures audited (``core.authn``); users are managed in
``api/routes/users.py``.
"""

from __future__ import annotations

import io
from datetime import datetime

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE, Acting, acting, actor, client, db_session, require, throttle
from core import accounts, api_keys, audit, authn
from core.accounts import Principal
from core.authn import Client
from core.bodies import RequestBody
from core.errors import Forbidden, Unauthorized
from core.models import ApiKey, ConsoleSession, User
from core.rbac import ALL_ROLES, Role
from core.security.throttle import Throttle

router = APIRouter(prefix="/api/v1", tags=["auth"])
ADMIN = acting(Role.ADMIN)
PUBLIC_PATHS = frozenset(
    {"/api/v1/auth/login", "/api/v1/auth/2fa/enrol", "/api/v1/auth/2fa/verify", "/api/v1/auth/logout"}
)


class LoginIn(RequestBody):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class LoginOut(BaseModel):
    user_id: int
    role: Role
    needs_second_factor: bool
    must_enrol: bool
    must_change_password: bool
    csrf_token: str


class CodeIn(RequestBody):
    code: str = Field(min_length=6, max_length=32)


class ReEnrolIn(RequestBody):
    """Replacing a confirmed factor needs the password and a current TOTP or recovery code."""

    password: str = Field(max_length=1024)
    code: str = Field(min_length=6, max_length=32)


class PasswordChangeIn(RequestBody):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class EnrolOut(BaseModel):
    provisioning_uri: str
    qr_svg: str
    recovery_codes: list[str]


class MeOut(BaseModel):
    kind: str
    id: int
    name: str
    role: Role


class ApiKeyIn(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str


def _set_cookie(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https" or request.app.state.settings.env == "production"
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=secure, samesite="lax", max_age=12 * 3600, path="/"
    )


def _cookie_session(request: Request, session: Session) -> tuple[ConsoleSession, User]:
    """The console session of the cookie, verified or still waiting for the second factor."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = accounts.find_console_session(session, token) if token else None
    if found is None:
        raise Unauthorized("log in first")
    return found


def _user_actor(request: Request, user: User) -> audit.Actor:
    principal = Principal(kind="user", id=user.id, name=user.email, role=Role(user.role))
    return actor(request, principal)


def _console_user(request: Request, session: Session, principal: Principal) -> tuple[ConsoleSession, User]:
    if principal.kind != "user":
        raise Forbidden("only a console user can do this; log in to the console")
    return _cookie_session(request, session)


@router.post("/auth/login", response_model=LoginOut)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
    limiter: Throttle = Depends(throttle),
    origin: Client = Depends(client),
) -> LoginOut:
    """Check the password (throttled per account and per IP; 429 with Retry-After when locked)."""
    user = authn.log_in(session, limiter, email=body.email, password=body.password, client=origin)
    settings = request.app.state.settings
    second = accounts.needs_second_factor(user, settings.roles_requiring_2fa)
    row, token = accounts.open_console_session(session, user=user, verified=not second)
    _set_cookie(request, response, token)
    if not second:
        audit.record(
            session,
            actor=_user_actor(request, user),
            action="auth.login",
            target_type="user",
            target_id=user.id,
        )
    return LoginOut(
        user_id=user.id,
        role=Role(user.role),
        needs_second_factor=second,
        must_enrol=second and not user.totp_confirmed,
        must_change_password=user.password_must_change,
        csrf_token=row.csrf_token,
    )


@router.post("/auth/2fa/enrol", response_model=EnrolOut)
def enrol(
    request: Request,
    body: ReEnrolIn | None = None,
    session: Session = Depends(db_session, scope="function"),
    limiter: Throttle = Depends(throttle),
    origin: Client = Depends(client),
) -> EnrolOut:
    """Start TOTP enrolment: a new secret waits until a code from it is confirmed, and the current
    factor keeps working until then. A user who already has a factor must send their password and
    a current code (or a recovery code); someone who lost theirs asks an admin to reset it."""
    _, user = _cookie_session(request, session)
    enrolment = authn.start_enrolment(
        session,
        limiter,
        user=user,
        client=origin,
        password=body.password if body else None,
        code=body.code if body else None,
    )
    image = qrcode.make(enrolment.provisioning_uri, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    audit.record(
        session,
        actor=_user_actor(request, user),
        action="auth.2fa.enrol",
        target_type="user",
        target_id=user.id,
        diff={"replacing": user.totp_confirmed},
    )
    return EnrolOut(
        provisioning_uri=enrolment.provisioning_uri,
        qr_svg=buffer.getvalue().decode(),
        recovery_codes=list(enrolment.recovery_codes),
    )


@router.post("/auth/2fa/verify", response_model=MeOut)
def verify(
    body: CodeIn,
    request: Request,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
    limiter: Throttle = Depends(throttle),
    origin: Client = Depends(client),
) -> MeOut:
    """Give the second factor of a log-in (a TOTP code once per time step, or a recovery code once);
    a user with no factor yet confirms their first enrolment with it. The session's cookie gets a
    new token: the password-only one stops working."""
    console_session, user = _cookie_session(request, session)
    method = authn.second_factor(session, limiter, user=user, code=body.code, client=origin)
    console_session.verified = True
    _set_cookie(request, response, accounts.renew_console_token(session, console_session))
    audit.record(
        session,
        actor=_user_actor(request, user),
        action="auth.login",
        target_type="user",
        target_id=user.id,
        diff={"second_factor": method, "recovery_codes_left": len(user.recovery_codes or [])},
    )
    return MeOut(kind="user", id=user.id, name=user.email, role=Role(user.role))


@router.post("/auth/2fa/confirm", response_model=MeOut)
def confirm(
    body: CodeIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    limiter: Throttle = Depends(throttle),
    origin: Client = Depends(client),
    principal: Principal = Depends(require(*ALL_ROLES)),
) -> MeOut:
    """Replace the current factor with the one being enrolled, given a code from the new one; your
    other sessions end."""
    console_session, user = _console_user(request, session, principal)
    ended = authn.confirm_enrolment(
        session, limiter, user=user, code=body.code, client=origin, keep_session_id=console_session.id
    )
    audit.record(
        session,
        actor=actor(request, principal),
        action="auth.2fa.confirm",
        target_type="user",
        target_id=user.id,
        diff={"sessions_ended": ended},
    )
    return MeOut(kind="user", id=user.id, name=user.email, role=Role(user.role))


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChangeIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    limiter: Throttle = Depends(throttle),
    origin: Client = Depends(client),
    principal: Principal = Depends(require(*ALL_ROLES)),
) -> None:
    """Change your own password (the current one is checked); your other sessions end."""
    console_session, user = _console_user(request, session, principal)
    authn.change_password(
        session,
        limiter,
        user=user,
        current=body.current_password,
        new=body.new_password,
        client=origin,
        keep_session_id=console_session.id,
    )


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: Session = Depends(db_session, scope="function")) -> None:
    """End this browser's session (audited ``auth.logout`` when there was one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and (user := accounts.close_console_session(session, token)) is not None:
        audit.record(
            session, actor=_user_actor(request, user), action="auth.logout", target_type="user", target_id=user.id
        )
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=MeOut)
def me(principal: Principal = Depends(require(*ALL_ROLES))) -> MeOut:
    return MeOut(kind=principal.kind, id=principal.id, name=principal.name, role=principal.role)


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get("/apikeys", response_model=list[ApiKeyOut])
def list_api_keys(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.ADMIN))
) -> list[ApiKeyOut]:
    """Every key, unrevoked first, newest first."""
    return [_key_out(k.key) for k in api_keys.listing(session)]


@router.post("/apikeys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyIn, by: Acting = ADMIN) -> ApiKeyCreated:
    """The key is in this response only; Relais keeps just its hash. A key made by a console user
    stops working while that user is deactivated or no longer an admin, and so does one made with such a key."""
    creator = api_keys.creator_for(by.session, by.principal)
    key, secret = api_keys.issue(by.session, name=body.name, role=body.role, actor=by.actor, created_by=creator)
    return ApiKeyCreated(**_key_out(key).model_dump(), key=secret)


@router.delete("/apikeys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: int, by: Acting = ADMIN) -> ApiKeyOut:
    return _key_out(api_keys.revoke(by.session, key_id=key_id, actor=by.actor))
