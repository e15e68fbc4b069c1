"""Every state change a person (a console user or an API key) can make through a route is audited.

The route table is walked as in ``test_rbac.py``: each POST, PUT, PATCH and DELETE route either reaches
``core.audit.record`` from its handler (directly, through ``Acting.audit``, or through the domain
functions it calls) or is listed in :data:`NOT_AUDITED` with the reason. A route added later without
either fails ``test_every_state_change_is_audited_or_declared_exempt`` with its method and path. The ``relais``
commands are walked the same way (:data:`CLI_NOT_AUDITED`): an operator at the server is a person too.

The walk is static: it follows the functions the handler names (module globals, closures, dispatch
tables), not a request per route, so it proves the audit call is *there*, not that each branch takes it.
The tests below it exercise the routes this walk found unaudited (now fixed) with real requests and
check the rows' actor and target; the neighbouring tests of each area check their own entries.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.console import webpush
from api.deps import CSRF_HEADER
from core import accounts, audit, db
from core.models import AuditEntry
from core.security import totp
from tests.api.test_rbac import _routes
from tests.console.helpers import PASSWORD
from tests.console.test_webpush import Browser

MUTATING = ("POST", "PUT", "PATCH", "DELETE")

#: The mutating routes that record no audit entry, and why. One place: a route is audited or listed here.
NOT_AUDITED: dict[str, str] = {
    # provider and shop webhooks: signed by the sender, not a person; the system's own changes
    "POST /webhooks/vonage/inbound": "a customer's text, signed by the provider (stored as a message)",
    "POST /webhooks/vonage/status": "a delivery report, signed by the provider (the message's status history)",
    "POST /webhooks/shopify/orders/create": "the shop's signed order webhook (the order and its event rows)",
    "POST /webhooks/shopify/orders/paid": "the shop's signed order webhook (the order and its event rows)",
    "POST /webhooks/shopify/orders/cancelled": "the shop's signed order webhook (the order and its event rows)",
    "POST /webhooks/shopify/fulfillments/create": "the shop's signed order webhook (the order and its event rows)",
    "POST /webhooks/shopify/refunds/create": "the shop's signed refund webhook (the order or its credit note)",
    "POST /api/v1/simulator/inbound": "a customer's text on the simulated phone, the same path as a provider's",
    # read-only: they answer a question and store nothing
    "POST /api/v1/agent/analyze": "analyses a text, stores nothing",
    "POST /api/v1/knowledge/search": "a search, stores nothing",
    "POST /api/v1/messages/preview": "encoding and segments of a text, stores nothing",
    "POST /api/v1/segments/preview": "counts a segment's members, stores nothing",
    "POST /api/v1/templates/preview": "renders a template, stores nothing",
    "POST /console/campaigns/wizard/review": "redraws the wizard's summary, stores nothing",
    "POST /console/campaigns/wizard/arms": "redraws the wizard's arms, stores nothing",
    "POST /console/segments/builder": "redraws the segment builder, stores nothing",
    "POST /console/segments/preview": "counts a segment's members, stores nothing",
    "POST /console/templates/check": "checks a template as typed, stores nothing",
    "POST /console/templates/media": "redraws the media fields, stores nothing",
    "POST /console/templates/media/check": "checks media URLs as typed, stores nothing",
    "POST /console/variants/{variant_id}/check": "brand-checks a text as typed, stores nothing",
    "POST /api/v1/contacts/imports/preview": "reads a file's first rows, writes nothing (write=False)",
    "POST /console/imports/preview": "stores the wizard's choices, queues a preview of the file, imports nothing",
    "POST /console/order-imports/preview": "stores the page's choices, queues a dry run of the file, records nothing",
    "POST /console/imports/upload": "keeps the chosen file for its preview, imports nothing (the start is audited)",
    "POST /console/order-imports/upload": "keeps the chosen file for its preview, records nothing (start audited)",
}

# where the walk follows calls: Relais' own packages (a library's functions never audit)
_PACKAGES = (
    "api",
    "core",
    "agent",
    "campaigns",
    "channels",
    "contacts",
    "conversations",
    "delivery",
    "handoff",
    "intelligence",
    "knowledge",
    "workers",
    "cli",
)


def _mutating() -> Iterator[tuple[str, APIRoute]]:
    for route in _routes():
        for method in sorted(set(route.methods or ()) & set(MUTATING)):
            yield f"{method} {route.path}", route


def _ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return inspect.isfunction(obj) and module.split(".")[0] in _PACKAGES


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _functions_in(value: Any) -> list[Callable[..., Any]]:
    """The functions a name stands for: itself, or those of a dispatch table (dict or tuple values)."""
    if _ours(value):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [f for item in value for f in _functions_in(item)]
    return []


def _scope(function: Callable[..., Any]) -> dict[str, Any]:
    closure = inspect.getclosurevars(function)
    return {**function.__globals__, **closure.nonlocals}


def _callees(function: Callable[..., Any]) -> tuple[bool, list[Callable[..., Any]]]:
    """Whether ``function`` itself audits (``x.audit(...)`` of an ``Acting``), and the functions it names."""
    scope = _scope(function)
    if function.__name__ == "<lambda>":  # its source is a fragment of a line: read the names it loads
        names = function.__code__.co_names
        named = [scope[n] for n in names if n in scope]
        attributes = [getattr(m, n, None) for m in named if isinstance(m, types.ModuleType) for n in names]
        return False, [f for value in (*named, *attributes) for f in _functions_in(value)]
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    body = definition.body if isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef) else [definition]
    found: list[Callable[..., Any]] = []
    for node in (n for statement in body for n in ast.walk(statement)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "audit"
            and not isinstance(_resolve(node.func.value, scope), types.ModuleType)
        ):
            return True, []
        if isinstance(node, ast.Name | ast.Attribute):
            found += _functions_in(_resolve(node, scope))
    return False, found


def _audits(function: Callable[..., Any], seen: set[Any]) -> bool:
    function = inspect.unwrap(function)
    if function is audit.record:
        return True
    if function in seen:
        return False
    seen.add(function)
    direct, callees = _callees(function)
    return direct or any(_audits(callee, seen) for callee in callees)


def test_every_state_change_is_audited_or_declared_exempt() -> None:
    routes = dict(_mutating())
    assert len(routes) > 100  # the walk sees the whole table, API and console
    unaudited = sorted(
        name for name, route in routes.items() if name not in NOT_AUDITED and not _audits(route.endpoint, set())
    )
    assert unaudited == [], "audit these changes (core.audit.record / Acting.audit) or list them in NOT_AUDITED"


def test_the_exemptions_name_routes_that_exist() -> None:
    """A renamed or removed route leaves no stale exemption behind (the walk over-approximates, so an
    import preview, which shares the import's code with ``write=False``, is listed although it "reaches" one)."""
    assert sorted(set(NOT_AUDITED) - dict(_mutating()).keys()) == []


def test_the_audit_log_cannot_be_changed_through_the_app(app_client: TestClient) -> None:
    """No route writes or deletes entries: the log's routes only read, and only ``core.audit`` makes a row."""
    log_routes = [f"{sorted(r.methods or ())} {r.path}" for r in _routes() if "audit" in r.path]
    assert log_routes and all(set(r.methods or ()) <= {"GET", "HEAD"} for r in _routes() if "audit" in r.path)
    _, admin = _key("admin")
    for method in MUTATING:
        for url in ("/api/v1/audit", "/api/v1/audit/1", "/console/audit", "/api/v1/audit/export.csv"):
            assert app_client.request(method, url, json={}, headers=admin).status_code in (404, 405), (method, url)
    root = Path(__file__).resolve().parents[2]
    writers = []
    for package in _PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "migrations" in path.parts or path in (root / "core" / "audit.py", root / "core" / "models.py"):
                continue
            text = path.read_text()
            if any(s in text for s in ("AuditEntry(", "update(AuditEntry", "delete(AuditEntry", '"audit_log"')):
                writers.append(str(path.relative_to(root)))
    assert writers == []


def _record_calls() -> Iterator[tuple[str, ast.Call]]:
    root = Path(__file__).resolve().parents[2]
    for package in _PACKAGES:
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit"
                ):
                    yield f"{path.relative_to(root)}:{node.lineno}", node


def test_every_entry_names_its_actor_and_target() -> None:
    """``audit.record`` defaults ``target_id`` to empty; every call in the app names one (``Acting.audit`` must).
    A route records the person or key that called it, never Relais itself (``audit.SYSTEM`` is for jobs)."""
    untargeted = [
        where for where, call in _record_calls() if not any(k.arg in ("target_id", None) for k in call.keywords)
    ]
    assert untargeted == []
    root = Path(__file__).resolve().parents[2]
    as_system = [
        str(path.relative_to(root))
        for path in (root / "api").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Attribute) and node.attr == "SYSTEM")
        or (
            isinstance(node, ast.ImportFrom)
            and node.module == "core.audit"
            and "SYSTEM" in {a.name for a in node.names}
        )
    ]
    assert as_system == []


def _key(role: str) -> tuple[str, dict[str, str]]:
    """An API key's id (as the log names it) and its headers."""
    with db.session_scope() as session:
        key, secret = accounts.create_api_key(session, name=f"audit-{role}", role=role)
        return str(key.id), {"Authorization": f"Bearer {secret}"}


def _entries(action: str) -> list[AuditEntry]:
    with db.session_scope() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def test_variants_record_who_drafted_them(app_client: TestClient) -> None:
    """Generated and person-written variants were stored with no author and no audit entry."""
    key_id, headers = _key("marketer")
    generated = app_client.post(
        "/api/v1/variants",
        headers=headers,
        json={"brief": "Spring sale: 20% off everything until Sunday", "languages": ["en"], "n": 2},
    )
    assert generated.status_code == 201, generated.text
    written = app_client.post(
        "/api/v1/variants/check", headers=headers, json={"text": "Our spring sale starts today!", "language": "en"}
    )
    assert written.status_code == 201, written.text
    ids = [str(v["id"]) for v in generated.json()["variants"]] + [str(written.json()["id"])]
    rows = _entries("variant.create")
    assert [r.target_id for r in rows] == ids
    assert {(r.actor_type, r.actor_id, r.target_type) for r in rows} == {("api_key", key_id, "variant")}
    assert rows[-1].diff["path"] == "human"


def test_an_event_trigger_is_audited_once(app_client: TestClient) -> None:
    """An API key's event created a contact and an event (and may send a text) with no audit entry."""
    key_id, headers = _key("marketer")
    event = {"type": "order.created", "contact": {"phone": "+33612345678"}, "idempotency_key": "order-1"}
    first = app_client.post("/api/v1/events", headers=headers, json=event)
    assert first.status_code == 202, first.text
    assert app_client.post("/api/v1/events", headers=headers, json=event).status_code == 200  # a repeat: no change
    rows = _entries("event.trigger")
    assert [(r.actor_type, r.actor_id, r.target_type, r.target_id) for r in rows] == [
        ("api_key", key_id, "event", str(first.json()["id"]))
    ]
    assert rows[0].diff["type"] == "order.created" and rows[0].diff["status"] == first.json()["status"]


def _session(client: TestClient, email: str) -> tuple[int, dict[str, str]]:
    with db.session_scope() as session:
        user = accounts.create_user(session, email=email, password=PASSWORD, role="agent")
        secret = user.totp_secret = totp.new_enrolment(email).secret
        user_id = user.id
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    return user_id, {CSRF_HEADER: login.json()["csrf_token"]}


def test_log_out_and_push_subscriptions_are_audited(outbound_to_loopback: None, app_client: TestClient) -> None:
    """A person's log-out and the browsers they register for notifications were not in the log."""
    user_id, headers = _session(app_client, "ana@example.com")
    endpoint = "http://127.0.0.1:9/push/secret-token"
    subscription = Browser().subscription(endpoint)  # keys a push can be encrypted to
    assert app_client.post("/console/push/subscriptions", json=subscription, headers=headers).status_code == 204
    assert len(webpush.subscriptions(app_client.app.state.settings)) == 1  # type: ignore[attr-defined]
    unsubscribe = {"endpoint": endpoint}
    assert app_client.post("/console/push/unsubscribe", json=unsubscribe, headers=headers).status_code == 204
    assert app_client.post("/console/push/unsubscribe", json=unsubscribe, headers=headers).status_code == 204
    assert app_client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert app_client.post("/api/v1/auth/logout", headers=headers).status_code == 204  # no session left: no entry
    me = ("user", str(user_id), "user", str(user_id))
    for action in ("push.subscribe", "push.unsubscribe", "auth.logout"):
        rows = _entries(action)
        assert [(r.actor_type, r.actor_id, r.target_type, r.target_id) for r in rows] == [me], action
    diff = _entries("push.subscribe")[0].diff
    assert list(diff) == ["service"] and "secret-token" not in str(diff)  # the push service, never the endpoint


def test_a_target_id_longer_than_its_column_is_kept_whole_in_the_diff(runtime_any_db: object) -> None:
    """A knowledge document's id (``kb/`` + up to 200 characters) failed the insert on PostgreSQL."""
    document = "manuals/" + "returns-and-exchanges-" * 10
    with db.session_scope() as session:
        entry_id = audit.record(
            session,
            actor=audit.SYSTEM,
            action="knowledge.delete",
            target_type="document",
            target_id=document,
            diff={"chunks": 3},
        ).id
    with db.session_scope() as session:
        entry = session.get(AuditEntry, entry_id)
        assert entry is not None
        assert len(entry.target_id) == audit.TARGET_ID_LENGTH and document.startswith(entry.target_id[:-1])
        assert entry.diff == {"chunks": 3, "target_id": document}


# ---- the command line: `relais …` changes state as a person too (the operator at the server) ----

#: The ``relais`` commands that record no audit entry, and why. A command is audited or listed here.
CLI_NOT_AUDITED: dict[str, str] = {
    "run": "serves the app; what is done through it is audited by its routes",
    "worker": "runs queued jobs, each the system's own work or audited where it was asked for",
    "migrate": "brings the schema up to date and fills derived columns (maintenance, no person's data)",
    "makemigration": "writes a migration file for a developer, changes no data",
    "bench": "benchmarks on their own throw-away stacks",
    "analyze": "analyses a text, stores nothing",
    "eval list": "lists the suites",
    "eval run": "writes a QA report file, changes no shop data",
    "eval compare": "compares two report files",
    "user list": "reads",
    "intents list": "reads",
    "kb list": "reads",
    "campaigns list": "reads",
    "campaigns report": "reads (writes the report to a file the operator names)",
}


def _cli_commands() -> dict[str, Callable[..., Any]]:
    """Every ``relais`` command by its full name (``user set-role``), from the Typer app and its groups."""
    from cli.main import app

    found: dict[str, Callable[..., Any]] = {}

    def walk(group: Any, prefix: str) -> None:
        for info in group.registered_commands:
            found[prefix + (info.name or info.callback.__name__.replace("_", "-"))] = info.callback
        for sub in group.registered_groups:
            walk(sub.typer_instance, f"{prefix}{sub.name} ")

    walk(app, "")
    return found


def test_every_cli_command_that_changes_state_is_audited_or_declared_exempt() -> None:
    """``relais user deactivate``, ``contacts erase``, ``kb ingest``… are changes a person makes at the server:
    each reaches ``core.audit.record`` (walked as the routes are) or is listed in :data:`CLI_NOT_AUDITED`."""
    commands = _cli_commands()
    assert {"user set-role", "apikey create", "contacts erase", "demo load"} <= commands.keys()
    unaudited = sorted(name for name, f in commands.items() if name not in CLI_NOT_AUDITED and not _audits(f, set()))
    assert unaudited == [], "audit these commands (as cli.actor.CLI_ACTOR) or list them in CLI_NOT_AUDITED"
    assert sorted(set(CLI_NOT_AUDITED) - commands.keys()) == []  # no stale exemption
