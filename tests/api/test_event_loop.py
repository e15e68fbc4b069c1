"""No request does blocking work on the server's event loop.

uvicorn serves every request of a process on one event loop thread. An ``async def`` route (or dependency, or
exception handler) that queries the database, calls Redis or resolves a name does it on that thread, and while it
waits every other request waits too, ``/healthz`` and the providers' webhooks included. Segment counts, the campaign
wizard's confirm, the brand voice's save and the Shopify and contact-sync webhooks did so. Routes are plain ``def``
(FastAPI runs them in its threadpool) and read their body through an async dependency (``api.deps.raw_body``,
``posted_form``, ``api.uploads.uploaded``).

Three checks: the route table names no coroutine outside ``ON_THE_LOOP`` (a route added later is covered); each route
that was async answers with no SQL statement and no Redis command run on an event loop thread (the database and Redis
are real, their calls only watched); and a real uvicorn answers ``/healthz`` while a webhook's database call is held.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis.connection
import yaml
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.app import discover_routers
from campaigns.shopify import sign
from core import webhooks
from core.settings import Settings, get_settings
from tests.console import import_steps
from tests.console.conftest import live_server  # noqa: F401  # the fixture: a real uvicorn
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers, run_jobs

#: the coroutines the app may run on its event loop, and why each blocks nothing
ON_THE_LOOP = {
    "api.routes.webhooks_in.vonage_status": "keeps reports with the asyncio Redis client (core.redis_async)",
    "api.routes.webhooks_in._webhook": "reads the body",
    "api.routes.simulator._webhook": "reads the body",
    "api.deps.raw_body": "reads the body",
    "api.deps.posted_form": "reads the form",
    "api.uploads.uploaded": "reads the upload (spooled to a file past 8 MiB)",
    "api.console.templates._draft": "reads the form",
    "api.console.campaign_wizard._wizard": "reads the form",
    "api.console.segments._builder": "reads the form",
}
SHOPIFY_SECRET = "shpss_loop"
SYNC_SECRET = "sync-loop"
ORDER = {"id": 820982911946154500, "name": "#9999", "total_price": "199.00", "currency": "EUR",
         "customer": {"first_name": "Jean", "phone": "+33612345678"},
         "line_items": [{"title": "Chaise", "quantity": 2}]}
HTML = {"Accept": "text/html"}


def _name(call: Callable[..., Any]) -> str:
    return f"{call.__module__}.{call.__qualname__}"


def _coroutines(dependant: Dependant) -> Iterator[str]:
    if dependant.call is not None and (inspect.iscoroutinefunction(dependant.call)
                                       or inspect.isasyncgenfunction(dependant.call)):
        yield _name(dependant.call)
    for sub in dependant.dependencies:
        yield from _coroutines(sub)


def test_no_route_or_dependency_runs_on_the_loop_unless_listed() -> None:
    found: dict[str, set[str]] = {}
    for route in (r for router in discover_routers() for r in router.routes if isinstance(r, APIRoute)):
        for name in _coroutines(route.dependant):
            found.setdefault(name, set()).add(f"{sorted(route.methods or ())[0]} {route.path}")
    unlisted = {name: sorted(paths) for name, paths in found.items() if name not in ON_THE_LOOP}
    assert not unlisted, f"async on the event loop (make them plain def, or list them with why): {unlisted}"
    assert set(ON_THE_LOOP) <= set(found), f"listed but no route uses them: {set(ON_THE_LOOP) - set(found)}"


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks' secrets, set before ``runtime`` builds the settings."""
    monkeypatch.setenv("RELAIS_SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("RELAIS_CONTACT_SYNC_WEBHOOK_SECRET", SYNC_SECRET)
    get_settings.cache_clear()


@pytest.fixture
def client(secrets: None, runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app, with every SQL statement and Redis command run on an event loop thread listed in ``client.blocked``."""
    from api.app import create_app

    blocked: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if _on_a_loop():
            blocked.append(" ".join(sql.split())[:100])

    sending = redis.connection.AbstractConnection.send_packed_command

    def command(connection: Any, packed: Any, check_health: bool = True) -> None:
        if _on_a_loop():
            blocked.append(f"redis {bytes(packed if isinstance(packed, bytes) else b''.join(packed))[:60]!r}")
        sending(connection, packed, check_health)

    event.listen(Engine, "before_cursor_execute", statement)  # every engine: the app configures its own
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", command)
    try:
        with TestClient(create_app(runtime)) as test_client:
            test_client.blocked = blocked  # type: ignore[attr-defined]
            yield test_client
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


def _shopify(client: TestClient) -> Any:
    body = json.dumps(ORDER).encode()
    return client.post("/webhooks/shopify/orders/create", content=body,
                       headers={"X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body)})


def _contact_sync(client: TestClient) -> Any:
    body = json.dumps({"contacts": [{"phone": "+33612345679", "consent": "opted_in"}]}).encode()
    return client.post("/api/v1/contacts/sync/webhook", content=body,
                       headers={"Relais-Signature": webhooks.sign(SYNC_SECRET, body)})


CSV = b"phone,name\n+33612345670,Zoe\n"
SPEC = yaml.safe_dump({"intents": [{"name": "gift_card", "examples": ["gift cards", "carte cadeau", "voucher"]}]})
PROFILE = yaml.safe_dump({"brand": {"name": "Maison Lumière"}, "hours": {"timezone": "Europe/Paris"}})

#: each route that was async: (method, path, the request's keywords, the admin API key's answer)
API_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/api/v1/contacts/import", {"content": CSV, "headers": {"Content-Type": "text/csv"}}, 202),
    ("POST", "/api/v1/contacts/imports/preview", {"content": CSV, "headers": {"Content-Type": "text/csv"}}, 200),
    ("POST", "/api/v1/orders/import", {"content": b"order_id,customer_id,date,total\n",
                                       "headers": {"Content-Type": "text/csv"}}, 422),
    ("POST", "/api/v1/intents", {"content": SPEC, "headers": {"Content-Type": "application/yaml"}}, 202),
    ("PUT", "/api/v1/agent/profile", {"content": PROFILE, "headers": {"Content-Type": "application/yaml"}}, 200),
    ("POST", "/api/v1/knowledge/documents", {"files": {"file": ("care.md", b"# Care\n\nDust it weekly.\n")}}, 201),
]


@pytest.mark.parametrize("send", [_shopify, _contact_sync], ids=["shopify", "contact-sync"])
def test_the_signed_webhooks_leave_the_loop_free(client: TestClient, send: Callable[[TestClient], Any]) -> None:
    client.blocked.clear()  # type: ignore[attr-defined]
    answer = send(client)
    assert answer.status_code == 200, answer.text
    assert client.blocked == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "request_", "status"), API_CASES, ids=[c[1] for c in API_CASES])
def test_the_api_routes_with_a_body_leave_the_loop_free(client: TestClient, method: str, path: str,
                                                        request_: dict[str, Any], status: int) -> None:
    headers = {**auth_headers("admin"), **request_.pop("headers", {})}
    client.blocked.clear()  # type: ignore[attr-defined]
    answer = client.request(method, path, headers=headers, **request_)
    assert answer.status_code == status, answer.text
    assert client.blocked == []  # type: ignore[attr-defined]


#: each console route that was async (a marketer's session; the forms as the pages send them, empty or partial)
CONSOLE_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("/console/brand", {"data": {"name": ""}}, 200),  # refused: the form again, with the stop number read
    ("/console/segments/builder", {"data": {"action": ""}}, 200),
    ("/console/segments/preview", {"data": {}}, 200),
    ("/console/segments", {"data": {"name": "Everyone"}}, 204),
    ("/console/templates/check", {"data": {"body": "Bonjour"}}, 200),
    ("/console/templates/media", {"data": {"action": ""}}, 200),
    ("/console/templates", {"data": {"name": "Soldes", "kind": "marketing", "language": "fr", "body": "Bonjour"}}, 204),
    ("/console/campaigns/wizard/review", {"data": {}}, 200),
    ("/console/campaigns/wizard/arms", {"data": {}}, 200),
    ("/console/campaigns/wizard/save", {"data": {}}, 200),  # refused: the summaries with its problems
    ("/console/imports/upload", {"files": {"file": ("people.csv", CSV, "text/csv")}}, 200),
]


@pytest.fixture
def marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {"HX-Request": "true", "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


@pytest.mark.parametrize(("path", "request_", "status"), CONSOLE_CASES, ids=[c[0] for c in CONSOLE_CASES])
def test_the_console_forms_leave_the_loop_free(client: TestClient, marketer: dict[str, str], path: str,
                                               request_: dict[str, Any], status: int) -> None:
    client.blocked.clear()  # type: ignore[attr-defined]
    answer = client.post(path, headers=marketer, **request_)
    assert answer.status_code == status, answer.text
    assert client.blocked == []  # type: ignore[attr-defined]


def test_the_import_steps_leave_the_loop_free(client: TestClient, marketer: dict[str, str]) -> None:
    form = import_steps.form(import_steps.upload(client, "/console/imports", {"file": ("p.csv", CSV, "text/csv")},
                                                 marketer))
    client.blocked.clear()  # type: ignore[attr-defined]
    assert client.post("/console/imports/preview", headers=marketer, data=form).status_code == 200
    run_jobs()
    started = client.post("/console/imports", headers=marketer, data=form)
    assert started.status_code == 200, started.text
    assert client.blocked == []  # type: ignore[attr-defined]


def test_the_pages_in_words_leave_the_loop_free(client: TestClient) -> None:
    """The console's 404, 403 and 422 pages read the brand and the visitor from the database; they were drawn on the
    loop by the console's route wrapper and the app's error handlers, for anonymous visitors too."""
    client.blocked.clear()  # type: ignore[attr-defined]
    assert client.get("/console/no-such-page", headers=HTML).status_code == 404  # api.errors, anonymous
    _, secret = create_console_user("ana@example.com", role="analyst")
    log_in(client, "ana@example.com", secret)
    client.blocked.clear()  # type: ignore[attr-defined]
    assert client.get("/console/brand", headers=HTML).status_code == 403  # ConsoleRoute: Forbidden
    assert client.get("/console/campaigns/999999", headers=HTML).status_code == 404  # ConsoleRoute: NotFound
    assert client.get("/console/segments/abc", headers=HTML).status_code in (403, 404)  # api.errors: the path
    assert client.blocked == []  # type: ignore[attr-defined]


def test_healthz_answers_while_a_webhook_waits_on_the_database(secrets: None, live_server: str) -> None:  # noqa: F811
    """A real uvicorn: the Shopify webhook's first database statement is held until released; ``/healthz`` answers
    meanwhile. On the loop, the held statement held the whole server: ``/healthz`` timed out."""
    held, release = threading.Event(), threading.Event()

    def hold(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "contacts" in sql and not held.is_set():
            held.set()
            release.wait(60)

    event.listen(Engine, "before_cursor_execute", hold)
    answers: list[httpx.Response] = []
    body = json.dumps(ORDER).encode()
    webhook = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{live_server}/webhooks/shopify/orders/create", content=body, timeout=60,
        headers={"X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body)})))
    try:
        webhook.start()
        assert held.wait(30), "the webhook never reached the database"
        assert httpx.get(f"{live_server}/healthz", timeout=5).status_code == 200
    finally:
        release.set()
        webhook.join(60)
        event.remove(Engine, "before_cursor_execute", hold)
    assert answers and answers[0].status_code == 200, answers
