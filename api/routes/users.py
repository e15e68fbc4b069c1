"""Console users, for admins: create, list, change role, deactivate/reactivate, reset password or 2FA,
end sessions.

Each action calls ``core.users`` (or ``core.accounts`` to create), which records the audit row.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from core import accounts, users
from core.accounts import Principal
from core.bodies import RequestBody
from core.models import User
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["users"])
ADMINS = require(Role.ADMIN)
ADMIN = acting(Role.ADMIN)


class UserIn(RequestBody):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    role: Role
    name: str = Field("", max_length=200)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    totp_enabled: bool
    is_active: bool
    password_must_change: bool
    created_at: datetime


class PasswordResetIn(RequestBody):
    password: str = Field(max_length=1024, description="A temporary password to give the user out of band.")


class UserChangeIn(RequestBody):
    role: Role = Field(description="The user's new role; their sessions end, so it applies from their next log-in.")


class SessionsRevoked(BaseModel):
    sessions_ended: int


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        totp_enabled=user.totp_confirmed,
        is_active=user.is_active,
        password_must_change=user.password_must_change,
        created_at=user.created_at,
    )


@router.get("/users", response_model=list[UserOut])
def list_users(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(ADMINS)
) -> list[UserOut]:
    return [user_out(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, by: Acting = ADMIN) -> UserOut:
    user = accounts.create_user(by.session, email=body.email, password=body.password, role=body.role, name=body.name)
    user.password_must_change = True  # the administrator chose it: a temporary password
    by.audit("user.create", "user", user.id, {"role": user.role})
    return user_out(user)


@router.patch("/users/{user_id}", response_model=UserOut)
def change_user(user_id: int, body: UserChangeIn, by: Acting = ADMIN) -> UserOut:
    """Change the user's role (audited ``user.role.change``); their sessions end. The last active admin
    cannot be demoted, nor can an admin demote themself (409); an admin made something else suspends
    the API keys they created."""
    return user_out(users.change_role(by.session, user_id=user_id, role=body.role, actor=by.actor))


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(user_id: int, by: Acting = ADMIN) -> UserOut:
    """The user can no longer log in; their sessions end and the API keys they created stop working.
    The last active admin cannot be deactivated, nor can an admin deactivate themself (409)."""
    return user_out(users.deactivate(by.session, user_id=user_id, actor=by.actor))


@router.post("/users/{user_id}/reactivate", response_model=UserOut)
def reactivate_user(user_id: int, by: Acting = ADMIN) -> UserOut:
    return user_out(users.reactivate(by.session, user_id=user_id, actor=by.actor))


@router.post("/users/{user_id}/password", response_model=UserOut)
def reset_password(user_id: int, body: PasswordResetIn, by: Acting = ADMIN) -> UserOut:
    """Set a temporary password; the user's sessions end (they change it with ``POST /auth/password``)."""
    return user_out(users.reset_password(by.session, user_id=user_id, password=body.password, actor=by.actor))


@router.delete("/users/{user_id}/2fa", response_model=UserOut)
def reset_second_factor(user_id: int, by: Acting = ADMIN) -> UserOut:
    """Remove the user's authenticator and recovery codes; they enrol again at their next log-in."""
    return user_out(users.reset_second_factor(by.session, user_id=user_id, actor=by.actor))


@router.delete("/users/{user_id}/sessions", response_model=SessionsRevoked)
def revoke_sessions(user_id: int, by: Acting = ADMIN) -> SessionsRevoked:
    """Log the user out of every browser."""
    return SessionsRevoked(sessions_ended=users.revoke_sessions(by.session, user_id=user_id, actor=by.actor))
