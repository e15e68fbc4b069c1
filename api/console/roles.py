"""Where each role lands after log-in and which console pages its navigation offers.

One table per question, so the navigation, the home redirect and the friendly 403 page agree.
A page is listed for a role only when that role's guard admits it (``admin`` sees every page).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.rbac import Role


@dataclass(frozen=True)
class NavItem:
    key: str  # matches the ``active`` a template sets, for aria-current
    label: str
    path: str
    roles: frozenset[Role]


NAV: tuple[NavItem, ...] = (
    NavItem("overview", "Overview", "/console/overview", frozenset({Role.ADMIN})),
    NavItem("inbox", "Inbox", "/console/inbox", frozenset({Role.ADMIN, Role.AGENT})),
    NavItem("canned", "Canned responses", "/console/canned", frozenset({Role.ADMIN, Role.AGENT})),
    NavItem("supervisor", "Supervisor", "/console/supervisor", frozenset({Role.ADMIN, Role.AGENT, Role.ANALYST})),
    NavItem("campaigns", "Campaigns", "/console/campaigns", frozenset({Role.ADMIN, Role.MARKETER, Role.ANALYST})),
    NavItem("contacts", "Contacts", "/console/contacts", frozenset({Role.ADMIN, Role.MARKETER})),
    NavItem("segments", "Segments", "/console/segments", frozenset({Role.ADMIN, Role.MARKETER})),
    NavItem("templates", "Templates", "/console/templates", frozenset({Role.ADMIN, Role.MARKETER})),
    NavItem("variants", "Variants", "/console/variants", frozenset({Role.ADMIN, Role.MARKETER})),
    NavItem("brand", "Brand", "/console/brand", frozenset({Role.ADMIN, Role.MARKETER})),
    NavItem("qa", "QA reports", "/console/qa", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("predictions", "Predictions", "/console/predictions", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("users", "Users", "/console/users", frozenset({Role.ADMIN})),
    NavItem("apikeys", "API keys", "/console/apikeys", frozenset({Role.ADMIN})),
    NavItem("webhooks", "Webhooks", "/console/webhooks", frozenset({Role.ADMIN})),
    NavItem("audit", "Audit log", "/console/audit", frozenset({Role.ADMIN})),
    NavItem("jobs", "Failed jobs", "/console/jobs", frozenset({Role.ADMIN})),
)

HOME: dict[Role, str] = {
    Role.ADMIN: "/console/overview",
    Role.AGENT: "/console/inbox",
    Role.MARKETER: "/console/campaigns",
    Role.ANALYST: "/console/qa",
}


def navigation(role: Role) -> list[NavItem]:
    """The pages ``role`` may open, in menu order."""
    return [item for item in NAV if role in item.roles]


def home(role: Role) -> str:
    """The page ``role`` lands on after log-in (and from the brand link)."""
    return HOME[role]
