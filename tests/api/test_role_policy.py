"""Which role may reach what, as a policy over the route table (docs/security.md, Roles).

``test_rbac.py`` proves every route has a guard and that each role gets exactly the routes its guard
declares; it cannot tell a wrong declaration from a right one. This file pins the declarations to the
policy: a route added later under ``/api/v1/audit`` for marketers, a ``POST`` open to analysts, or a
campaign change open to agents fails here with its method, path and the role that should not reach it.
Each rule must match at least one route, so a renamed path does not leave a rule that checks nothing. The last
test replays the policy's examples with real console sessions (an agent cancelling a campaign, a marketer reading
the audit log or the API keys, an analyst exporting contacts), where the role comes from the signed-in user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from core.rbac import Role
from core.settings import Settings
from tests.api.test_rbac import _guards, _routes
from tests.console.helpers import create_console_user, log_in

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY = frozenset({"GET", *MUTATING})


@dataclass(frozen=True)
class Rule:
    """``roles`` may not call ``methods`` on paths matching ``path`` (a regex on the declared path), but ``except_``."""

    why: str
    roles: frozenset[Role]
    methods: frozenset[str]
    path: str
    except_: frozenset[str] = frozenset()  # "METHOD /path" entries the rule lets through, each for a stated reason

    def forbids(self, method: str, route_path: str) -> bool:
        return (method in self.methods and re.search(self.path, route_path) is not None
                and f"{method} {route_path}" not in self.except_)  # fmt: skip


NOT_ADMIN = frozenset({Role.MARKETER, Role.AGENT, Role.ANALYST})
RULES = (
    Rule("people, keys, the audit log, outbound webhooks, failed jobs, senders and provider accounts are the admin's",
         NOT_ADMIN, ANY,
         r"^/(api/v1|console)/(users|apikeys|audit|webhooks|jobs|provider-accounts|senders|overview)(/|$)"),
    Rule("one person's whole record, its erasure and lifting a suppression are the admin's", NOT_ADMIN, ANY,
         r"^/(api/v1|console)/contacts/\{contact_id\}/(export|erase)$|^/api/v1/suppressions/\{phone\}$"),
    Rule("deleting a contact is the admin's", NOT_ADMIN, frozenset({"DELETE"}), r"^/api/v1/contacts/\{contact_id\}$"),
    Rule("CRM sync configuration runs are the admin's", NOT_ADMIN, MUTATING, r"^/api/v1/contacts/sync/(csv|hubspot)$"),
    Rule("what the bot knows and says (knowledge, intents, profile, teams) is changed by admins", NOT_ADMIN, MUTATING,
         r"^/api/v1/(knowledge/documents|intents|agent/profile|handoff/teams|handoff/agents)(/|$)"),
    Rule("analysts change nothing", frozenset({Role.ANALYST}), MUTATING, r".",
         except_=frozenset({
             "POST /api/v1/auth/password",  # their own password
             "POST /api/v1/auth/2fa/confirm",  # their own second factor
             "POST /api/v1/agent/analyze",  # analyses a text, stores nothing
             "POST /api/v1/knowledge/search",  # a search, stores nothing
         })),
    Rule("analysts read no contact, number, message, import or per-person prediction", frozenset({Role.ANALYST}), ANY,
         r"^/(api/v1|console)/(contacts|messages|conversations|inbox|imports|order-imports|orders|suppressions"
         r"|fragments/(inbox|conversations|counter))(/|$)"),
    Rule("agents change no campaign, segment, template, variant, brand, import, order, attribute or transactional "
         "event", frozenset({Role.AGENT}), MUTATING,
         r"^/(api/v1|console)/(campaigns|segments|templates|variants|brand|imports|order-imports|orders|attributes"
         r"|events|intelligence|suppressions)(/|$)|^/api/v1/contacts(/import|/imports|/attributes|/lists|$)"),
    Rule("agents export no contacts in bulk and read no import", frozenset({Role.AGENT}), ANY,
         r"^/api/v1/contacts/(export|imports)(/|$)|^/console/(contacts|imports|order-imports)(/|$)"),
    Rule("marketers do not act on conversations or the handoff queue", frozenset({Role.MARKETER}), MUTATING,
         r"^/(api/v1|console)/(conversations|handoff|canned|status|push)(/|$)"),
    Rule("marketers read no conversation", frozenset({Role.MARKETER}), ANY,
         r"^/(api/v1|console)/(conversations|inbox|fragments/(inbox|conversations|counter))(/|$)"),
)


def _declared(route: APIRoute) -> frozenset[Role] | None:
    guards = list(_guards(route.dependant))
    return frozenset().union(*(g.roles for g in guards)) if guards else None


def _calls() -> list[tuple[str, str, frozenset[Role]]]:
    return [(method, route.path, roles) for route in _routes() if (roles := _declared(route)) is not None
            for method in sorted((route.methods or set()) & ANY)]  # fmt: skip


def test_no_role_reaches_what_the_policy_keeps_from_it() -> None:
    breaches = sorted(
        f"{method} {path}: {role.value} ({rule.why})"
        for method, path, roles in _calls() for rule in RULES if rule.forbids(method, path)
        for role in roles & rule.roles
    )  # fmt: skip
    assert breaches == []


def test_every_rule_matches_a_route() -> None:
    calls = _calls()
    idle = [rule.why for rule in RULES if not any(rule.forbids(method, path) for method, path, _ in calls)]
    assert idle == []
    stale = sorted(e for rule in RULES for e in rule.except_ if e not in {f"{m} {p}" for m, p, _ in calls})
    assert stale == []


#: what a signed-in person of each role tries, as a browser would (session cookie and CSRF token), and must be refused
TRIED = {
    "agent": [("POST", "/api/v1/campaigns/1/cancel"), ("POST", "/console/campaigns/1/cancel"),
              ("GET", "/api/v1/contacts/export"), ("POST", "/api/v1/segments")],
    "marketer": [("GET", "/api/v1/audit"), ("GET", "/console/audit"), ("GET", "/api/v1/apikeys"),
                 ("POST", "/console/apikeys"), ("GET", "/api/v1/users"), ("POST", "/api/v1/conversations/1/close")],
    "analyst": [("GET", "/api/v1/contacts/export"), ("GET", "/console/contacts"), ("GET", "/api/v1/contacts/1"),
                ("GET", "/api/v1/messages"), ("GET", "/api/v1/contacts/1/predictions"), ("POST", "/api/v1/campaigns")],
}  # fmt: skip


def test_people_signed_in_are_refused_what_their_role_may_not_do(runtime: Settings) -> None:
    """The policy holds for console sessions too (the walk in ``test_rbac`` uses API keys): the role comes from
    the user, whatever the page or the API route asked."""
    from api.app import create_app

    for role, tries in TRIED.items():
        _, secret = create_console_user(f"{role}@example.com", role=role)
        with TestClient(create_app(runtime)) as client:
            csrf = {"X-CSRF-Token": log_in(client, f"{role}@example.com", secret)}
            assert client.get("/api/v1/auth/me").json()["role"] == role
            for method, path in tries:
                answer = client.request(method, path, headers=csrf, json={})
                assert answer.status_code == 403, (role, method, path, answer.status_code)
