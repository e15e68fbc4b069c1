"""The console's users page (admins): every user with role, two-factor state and whether they may
log in; change their role, deactivate/reactivate, end sessions, reset 2FA or set a temporary
password, and a form to add a user (``POST /api/v1/users``' route function: a temporary password,
audited). An admin's own row offers no role change or deactivation (``core.users`` refuses them too:
another admin must), and the last active admin cannot be demoted or deactivated.

The buttons are HTMX posts (CSRF token in the ``X-CSRF-Token`` header from the page body) that call
the same ``core.users`` functions as the API and the CLI, and answer with the re-rendered table.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, actor, db_session, require
from api.routes import users as rest
from core import api_keys, users
from core.accounts import Principal
from core.audit import Actor
from core.models import User
from core.rbac import Role
from core.words import counted

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
ADMIN = acting(Role.ADMIN)
ROLES = [Role.AGENT, Role.MARKETER, Role.ANALYST, Role.ADMIN]  # the form's order: the usual hire first


def _all(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> HTMLResponse:
    return render(
        request, "console/users.html", {"users": _all(session), "done": "", "roles": ROLES}, principal=principal
    )


def _table(request: Request, session: Session, principal: Principal, done: str) -> HTMLResponse:
    context = {"users": _all(session), "done": done, "roles": ROLES}
    return render(request, "console/_users.html", context, principal=principal)


def _act(request: Request, session: Session, principal: Principal, action: Callable[[Actor], str]) -> HTMLResponse:
    return _table(request, session, principal, action(actor(request, principal)))


# Each button's path after ``/users/{id}/`` → the ``core.users`` call and the line shown once it is done.
_BUTTONS: dict[str, Callable[[Session, int, Actor], str]] = {
    "deactivate": lambda s, uid, who: f"{users.deactivate(s, user_id=uid, actor=who).email} is deactivated.",
    "reactivate": lambda s, uid, who: f"{users.reactivate(s, user_id=uid, actor=who).email} may log in again.",
    "sessions/revoke": lambda s, uid, who: _sessions_ended(
        users.revoke_sessions(s, user_id=uid, actor=who), yourself=who.id == str(uid)
    ),
}


def _sessions_ended(count: int, *, yourself: bool) -> str:
    """How many sessions ended; the admin's own among them logs this page out (the next click asks to log in)."""
    said = counted(count, "session") + " ended"
    return said + ", yours included: log in again to go on." if yourself else said + "."


def _button_route(path: str, call: Callable[[Session, int, Actor], str]) -> None:
    def press(
        request: Request,
        user_id: int,
        session: Session = Depends(db_session, scope="function"),
        principal: Principal = Depends(ADMINS),
    ) -> HTMLResponse:
        return _act(request, session, principal, lambda who: call(session, user_id, who))

    router.add_api_route(f"/users/{{user_id}}/{path}", press, methods=["POST"], response_class=HTMLResponse)


for _path, _call in _BUTTONS.items():
    _button_route(_path, _call)


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user_id: int,
    password: str = Form("", max_length=1024),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> HTMLResponse:
    def reset(who: Actor) -> str:
        user = users.reset_password(session, user_id=user_id, password=password, actor=who)
        return f"Temporary password set for {user.email}; their sessions ended."

    return _act(request, session, principal, reset)


@router.post("/users/{user_id}/2fa/reset", response_class=HTMLResponse)
def reset_second_factor(user_id: int, by: Acting = ADMIN) -> HTMLResponse:
    """Remove a lost authenticator; the answer says what the user meets next (it said only "Two-factor reset")."""
    user = users.reset_second_factor(by.session, user_id=user_id, actor=by.actor)
    if by.actor.id == str(user.id):
        done = "Your two-factor is reset and your sessions ended: log in again to set up a new authenticator."
    elif user.role in by.request.app.state.settings.roles_requiring_2fa:
        done = (f"Two-factor reset for {user.email}: their authenticator and recovery codes are removed and their "
                "sessions ended. At their next log-in they set up a new authenticator.")
    else:
        done = (f"Two-factor reset for {user.email}: their authenticator and recovery codes are removed and their "
                f"sessions ended. {_a(user.role).capitalize()} need not use two-factor: their password is enough.")
    return _table(by.request, by.session, by.principal, done)


def _a(role: str) -> str:
    """"an analyst", "a marketer"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _role_changed(user: User, role: Role, *, needs_factor: bool, keys_stopped: int) -> str:
    """What a role change did, in words: the sessions, the second factor to come, the keys that stop."""
    said = f"{user.email} is now {_a(role.value)}. Their sessions ended"
    said += f": their next log-in brings the {role.value}'s pages"
    said += ", after setting up two-factor." if needs_factor else "."
    if keys_stopped:
        plural = "s" if keys_stopped > 1 else ""
        said += f" The {keys_stopped} API key{plural} they created stop working while they are not an admin."
    return said


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    user_id: int,
    role: Role = Form(...),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> HTMLResponse:
    def change(who: Actor) -> str:
        user = users.change_role(session, user_id=user_id, role=role, actor=who)
        needs_factor = role.value in request.app.state.settings.roles_requiring_2fa and not user.totp_confirmed
        stopped = 0 if role is Role.ADMIN else len(api_keys.created_by(session, user.id))
        return _role_changed(user, role, needs_factor=needs_factor, keys_stopped=stopped)

    return _act(request, session, principal, change)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    email: str = Form("", max_length=320),
    name: str = Form("", max_length=200),
    role: Role = Form(Role.AGENT),
    password: str = Form("", max_length=1024),
    by: Acting = ADMIN,
) -> HTMLResponse:
    """Create the user as the API does; the table comes back with the empty form (out of band)."""
    user = rest.create_user(rest.UserIn(email=email, password=password, role=role, name=name), by)
    done = (
        f"{user.email} is added as {user.role.value}. Give them the temporary password: they choose their own "
        "at their first log-in (and set up two-factor if their role needs it)."
    )
    return render(
        by.request,
        "console/_users.html",
        {"users": _all(by.session), "done": done, "roles": ROLES, "added": True},
        principal=by.principal,
    )
