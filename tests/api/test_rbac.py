"""Walk the whole route table: each role gets exactly the routes declared for it.

A route either declares its roles with ``Depends(require(...))`` or is listed in its module's
``PUBLIC_PATHS``. Without credentials a guarded route answers 401; with the wrong role 403; with
an allowed role anything but 401/403 (404 or 422 for the dummy ids and bodies used here).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import ROUTER_PACKAGES, discover_routers
from api.deps import RoleGuard, db_session
from core.rbac import ALL_ROLES, Role
from tests.helpers import create_api_key


def _guards(dependant: Dependant) -> Iterator[RoleGuard]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleGuard):
            yield sub.call
        yield from _guards(sub)


def _public_paths() -> set[str]:
    import pkgutil

    found: set[str] = set()
    for package_name in ROUTER_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            found |= set(getattr(module, "PUBLIC_PATHS", ()))
    return found


def _routes() -> list[APIRoute]:
    return [r for router in discover_routers() for r in router.routes if isinstance(r, APIRoute)]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)  # ids that exist nowhere: nothing real is touched


def _streams(route: APIRoute) -> bool:
    return route.path.endswith("/stream")


def test_every_route_is_guarded_or_declared_public() -> None:
    public = _public_paths()
    undeclared = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in _routes()
        if not list(_guards(r.dependant)) and r.path not in public
    ]
    assert undeclared == []
    guarded_and_public = [r.path for r in _routes() if list(_guards(r.dependant)) and r.path in public]
    assert guarded_and_public == []


def _sessions(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        if sub.call is db_session:
            yield sub
        yield from _sessions(sub)


def test_every_request_transaction_commits_before_the_response() -> None:
    """``Depends(db_session)`` without ``scope="function"`` would commit after the response is sent."""
    late = sorted({r.path for r in _routes() for d in _sessions(r.dependant) if d.scope != "function"})
    assert late == []


def test_each_role_gets_exactly_its_routes(app_client: TestClient) -> None:
    keys = {role: {"Authorization": f"Bearer {create_api_key(role.value)}"} for role in ALL_ROLES}
    checked = 0
    for route in _routes():
        guards = list(_guards(route.dependant))
        if not guards:
            continue
        allowed = {Role.ADMIN} | set().union(*(g.roles for g in guards))
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            url = _url(route.path)
            anonymous = app_client.request(method, url, json={})
            assert anonymous.status_code == 401, f"{method} {route.path} without credentials"
            for role in ALL_ROLES:
                if role in allowed and _streams(route):
                    continue
                response = app_client.request(method, url, json={}, headers=keys[role])
                if role in allowed:
                    assert response.status_code not in (401, 403), f"{role} refused {method} {route.path}"
                else:
                    assert response.status_code == 403, f"{role} allowed {method} {route.path}"
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer rls_000000000000_forged", "Basic abc"])
def test_bad_credentials_are_401_problem_json(app_client: TestClient, header: str) -> None:
    response = app_client.get("/api/v1/audit", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
