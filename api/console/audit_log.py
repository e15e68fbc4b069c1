"""The console's audit log page (admins): every change made by a person, a key or Relais itself,
newest first, filtered by who, what and when, 50 to a page, in words and in the shop's time zone,
with the CSV export of the same filters (``GET /api/v1/audit/export.csv``).

The filters are a plain GET form, so a filtered view is a link an admin can keep or send; the rows
come from ``core.audit.query``, the API's own query. Dates are whole days in the shop's zone: "to
30 Nov" includes the 30th.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.profile import parse_profile_text
from agent.runtime import profile_store
from api.console import ConsoleRoute, render
from api.console.audit_words import ACTOR_KINDS, action_text, area_text, readable, target_text
from api.console.campaign_wizard import home_zone
from api.deps import db_session, require
from core import audit
from core.accounts import Principal
from core.models import ApiKey, User
from core.rbac import Role
from core.security.tokens import API_KEY_PREFIX
from core.settings import Settings

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
PER_PAGE = 50
LAST_PAGE = 10_000  # deeper than anyone reads; keeps the offset a plain number


def shop_zone(session: Session, settings: Settings) -> ZoneInfo:
    """The shop's clock: its business hours' zone when the business profile has hours, else its
    country's (``RELAIS_DEFAULT_REGION``, as a new campaign's), else UTC."""
    document = profile_store(settings).document(session=session)
    hours = parse_profile_text(document or "{}", settings=settings).hours
    return ZoneInfo(home_zone(settings.default_region) if hours.always_open else hours.timezone)


@dataclass
class Filters:
    """The page's query string, checked; ``problems`` says in words what could not be used."""

    actor: str = ""  # "user:3", "api_key:5", or a kind alone: "system:"
    action: str = ""  # an action, or an area's prefix ("user.")
    since: date | None = None
    until: date | None = None  # inclusive
    on: str = ""  # "user:3": entries about one thing (from the users and API keys pages)
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def query(self, zone: ZoneInfo) -> dict[str, Any]:
        """The arguments of ``core.audit.query`` (and of the CSV export)."""
        actor_type, _, actor_id = self.actor.partition(":")
        target_type, _, target_id = self.on.partition(":")
        return {
            "actor_type": actor_type or None,
            "actor_id": actor_id or None,
            "action": self.action or None,
            "target_type": target_type or None,
            "target_id": target_id or None,
            "since": datetime.combine(self.since, time(0), zone) if self.since else None,
            "until": datetime.combine(self.until + timedelta(days=1), time(0), zone) if self.until else None,
        }

    def link(self, **changed: object) -> str:
        """This page with these filters, ``changed`` applied (e.g. another page)."""
        values = {
            "actor": self.actor,
            "action": self.action,
            "since": self.since,
            "until": self.until,
            "on": self.on,
            "page": self.page,
            **changed,
        }
        kept = {k: str(v) for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}
        return "/console/audit" + (f"?{urlencode(kept)}" if kept else "")


def _day(value: str, label: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"“{label}” is not a date: {value[:40]!r}; pick a day, e.g. 2026-11-30.")
        return None


def _pair(value: str, label: str, problems: list[str]) -> str:
    kind, colon, _ = value.partition(":")
    if value and (not colon or not kind.replace("_", "").isalpha() or len(value) > 100):
        problems.append(f"“{label}” is not one of the choices: {value[:40]!r}.")
        return ""
    return value


def parse_filters(request: Request) -> Filters:
    """The filters from the query string; a value that cannot be used is dropped and said why."""
    params = request.query_params
    problems: list[str] = []
    since = _day(params.get("since", ""), "From", problems)
    until = _day(params.get("until", ""), "To", problems)
    if since and until and since > until:
        problems.append("“From” is after “To”: no day is in between, so the dates are swapped.")
        since, until = until, since
    page = params.get("page", "1")
    return Filters(
        actor=_pair(params.get("actor", ""), "Who", problems),
        action=params.get("action", "")[:100],
        since=since,
        until=until,
        on=_pair(params.get("on", ""), "About", problems),
        page=min(int(page), LAST_PAGE) if page.isdigit() and int(page) > 0 else 1,
        problems=problems,
    )


def actor_choices(session: Session) -> list[tuple[str, str]]:
    """(value, label) of everyone who can act: each user, each API key, then Relais itself, the CLI
    and anonymous log-in attempts (from the users and keys tables, not a scan of the log)."""
    users = [(f"user:{i}", email) for i, email in session.execute(select(User.id, User.email).order_by(User.email))]
    # a key's name need not be unique: each is told apart by the start of its token, as the keys page shows it
    keys = [
        (f"api_key:{i}", f"API key “{name}” (starts {API_KEY_PREFIX}{prefix}_)")
        for i, name, prefix in session.execute(
            select(ApiKey.id, ApiKey.name, ApiKey.prefix).order_by(ApiKey.name, ApiKey.id))
    ]
    return users + keys + [(f"{kind}:", label) for kind, label in ACTOR_KINDS.items()]


def action_choices(session: Session) -> list[tuple[str, list[tuple[str, str]]]]:
    """The log's actions grouped by area: each group starts with "every <area> action" (a prefix)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for action in audit.actions(session):
        area = action.partition(".")[0]
        groups.setdefault(area, [(f"{area}.", f"{area_text(area)}: every action")]).append(
            (action, action_text(action))
        )
    return [(area_text(area), choices) for area, choices in groups.items()]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> HTMLResponse:
    filters = parse_filters(request)
    zone = shop_zone(session, request.app.state.settings)
    stmt = audit.query(**filters.query(zone))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.limit(PER_PAGE).offset((filters.page - 1) * PER_PAGE))
    export = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.query(zone).items() if v}
    on_kind, _, on_id = filters.on.partition(":")
    context = {
        "filters": filters,
        "entries": readable(session, rows),
        "total": total,
        "first": (filters.page - 1) * PER_PAGE + 1,
        "per_page": PER_PAGE,
        "zone": zone,
        "when": lambda at: at.astimezone(zone).strftime("%a %d %b %Y, %H:%M:%S"),
        "actors": actor_choices(session),
        "actions": action_choices(session),
        "about": target_text(session, on_kind, on_id) if filters.on else "",
        "export": "/api/v1/audit/export.csv" + (f"?{urlencode(export)}" if export else ""),
    }
    return render(request, "console/audit.html", context, principal=principal)
