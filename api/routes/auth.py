"""Console log-in with optional/enforced TOTP, users and API keys.

Log-in sets a secure, httponly, SameSite=Lax session cookie; the session is only *verified*
(usable) once the second factor is given when the user has one or their role requires one.
Unsafe requests made with the cookie must echo the session's CSRF token (``X-CSRF-Token``).
"""

from __future__ import annotations

import io
from datetime import datetime

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE, actor, db_session, require
from core import accounts, audit
from core.accounts import Principal
from core.errors import Unauthorized
from core.models import ApiKey, ConsoleSession, User
from core.rbac import ALL_ROLES, Role

router = APIRouter(prefix="/api/v1", tags=["auth"])
PUBLIC_PATHS = frozenset(
    {"/api/v1/auth/login", "/api/v1/auth/2fa/enrol", "/api/v1/auth/2fa/verify", "/api/v1/auth/logout"}
)


class LoginIn(BaseModel):
    email: str
    password: str


class LoginOut(BaseModel):
    user_id: int
    role: Role
    needs_second_factor: bool
    must_enrol: bool
    csrf_token: str


class CodeIn(BaseModel):
    code: str = Field(min_length=6, max_length=32)


class EnrolOut(BaseModel):
    provisioning_uri: str
    qr_svg: str
    recovery_codes: list[str]


class MeOut(BaseModel):
    kind: str
    id: int
    name: str
    role: Role


class UserIn(BaseModel):
    email: str
    password: str
    role: Role
    name: str = ""


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    totp_enabled: bool
    created_at: datetime


class ApiKeyIn(BaseModel):
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


def _pending(request: Request, session: Session) -> tuple[ConsoleSession, User]:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = accounts.find_console_session(session, token) if token else None
    if found is None:
        raise Unauthorized("log in first")
    return found


@router.post("/auth/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, session: Session = Depends(db_session, scope="function")
) -> LoginOut:
    user = accounts.authenticate_password(session, email=body.email, password=body.password)
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
        csrf_token=row.csrf_token,
    )


def _user_actor(request: Request, user: User) -> audit.Actor:
    principal = Principal(kind="user", id=user.id, name=user.email, role=Role(user.role))
    return actor(request, principal)


@router.post("/auth/2fa/enrol", response_model=EnrolOut)
def enrol(request: Request, session: Session = Depends(db_session, scope="function")) -> EnrolOut:
    """Start (or restart, before confirmation) TOTP enrolment for the logged-in user."""
    console_session, user = _pending(request, session)
    if user.totp_confirmed and not console_session.verified:
        raise Unauthorized("give your current second factor before enrolling a new one")
    enrolment = accounts.start_totp_enrolment(session, user=user)
    image = qrcode.make(enrolment.provisioning_uri, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    audit.record(
        session,
        actor=_user_actor(request, user),
        action="auth.2fa.enrol",
        target_type="user",
        target_id=user.id,
    )
    return EnrolOut(
        provisioning_uri=enrolment.provisioning_uri,
        qr_svg=buffer.getvalue().decode(),
        recovery_codes=list(enrolment.recovery_codes),
    )


@router.post("/auth/2fa/verify", response_model=MeOut)
def verify(body: CodeIn, request: Request, session: Session = Depends(db_session, scope="function")) -> MeOut:
    console_session, user = _pending(request, session)
    if not accounts.verify_second_factor(session, user=user, code=body.code):
        raise Unauthorized("wrong or expired code")
    console_session.verified = True
    session.flush()
    audit.record(session, actor=_user_actor(request, user), action="auth.login", target_type="user", target_id=user.id)
    return MeOut(kind="user", id=user.id, name=user.email, role=Role(user.role))


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: Session = Depends(db_session, scope="function")) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.close_console_session(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=MeOut)
def me(principal: Principal = Depends(require(*ALL_ROLES))) -> MeOut:
    return MeOut(kind=principal.kind, id=principal.id, name=principal.name, role=principal.role)


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        totp_enabled=user.totp_confirmed,
        created_at=user.created_at,
    )


@router.get("/users", response_model=list[UserOut])
def list_users(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.ADMIN))
) -> list[UserOut]:
    return [_user_out(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(
    body: UserIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> UserOut:
    user = accounts.create_user(session, email=body.email, password=body.password, role=body.role, name=body.name)
    audit.record(
        session,
        actor=actor(request, principal),
        action="user.create",
        target_type="user",
        target_id=user.id,
        diff={"role": user.role},
    )
    return _user_out(user)


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
    return [_key_out(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id))]


@router.post("/apikeys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    body: ApiKeyIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> ApiKeyCreated:
    """The key is in this response only; Relais keeps just its hash."""
    creator = principal.id if principal.kind == "user" else None
    key, secret = accounts.create_api_key(session, name=body.name, role=body.role, created_by=creator)
    audit.record(
        session,
        actor=actor(request, principal),
        action="apikey.create",
        target_type="api_key",
        target_id=key.id,
        diff={"role": key.role, "name": key.name},
    )
    return ApiKeyCreated(**_key_out(key).model_dump(), key=secret)


@router.delete("/apikeys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(
    key_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> ApiKeyOut:
    key = accounts.revoke_api_key(session, key_id=key_id)
    audit.record(
        session,
        actor=actor(request, principal),
        action="apikey.revoke",
        target_type="api_key",
        target_id=key.id,
    )
    return _key_out(key)
