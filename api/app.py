"""The FastAPI application: REST ``/api/v1``, webhooks, console, simulator, health and metrics.

Routers are discovered: every module in ``api/routes/`` (and ``api/console/``) that defines a
``router`` is included, so adding an area never means editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors, middleware
from api.body_limit import BodyLimits
from api.routes.webhooks_in import PUBLIC_PATHS, ProviderFastPath
from core.logging import configure_logging
from core.runtime import bootstrap
from core.settings import Settings, get_settings

ROUTER_PACKAGES = ("api.routes", "api.console")
# Matched first: the providers' webhooks and short-link clicks carry most requests, and a request is
# matched against every route included before its own (a third of the API process's time on delivery
# reports went to route matching when the webhooks came last).
FIRST = ("api.routes.webhooks_in", "api.routes.links")


def discover_routers() -> list[APIRouter]:
    found: list[tuple[str, APIRouter]] = []
    for package_name in ROUTER_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{package_name}.{info.name}")
            router = getattr(module, "router", None)
            if isinstance(router, APIRouter):
                found.append((module.__name__, router))
    found.sort(key=lambda item: FIRST.index(item[0]) if item[0] in FIRST else len(FIRST))
    return [router for _, router in found]


class RelaisApp(FastAPI):
    """FastAPI whose providers' webhooks (one per message sent or received) skip its native OpenTelemetry
    layer, and whose signed ones ``provider_webhooks`` answers outside the middlewares (``create_app``
    sets it: ``ProviderFastPath``). That layer asks the global OpenTelemetry providers on every request
    whether one is set, which cost a delivery report about as much as its metrics (Relais sets none; an
    operator's would still see every other request). Their request id, metrics, logging, security
    headers and body limit follow the middlewares' rules, the fast path applying them itself."""

    provider_webhooks: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PUBLIC_PATHS and not self.root_path:
            await (self.provider_webhooks or self.without_telemetry)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def without_telemetry(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app with its middlewares, without FastAPI's OpenTelemetry layer."""
        await Starlette.__call__(self, scope, receive, send)


def create_app(
    settings: Settings | None = None, *, background: Callable[[], AbstractContextManager[object]] | None = None
) -> FastAPI:
    """Build the app.

    Args:
        settings: the settings (default: from the environment).
        background: entered for the app's lifetime; ``relais run`` passes the in-process job
            workers and scheduler (``workers.embedded.in_process``), which ``api`` does not import.
    """
    settings = bootstrap(settings or get_settings())
    configure_logging(json=settings.log_json, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background is None:
            yield
            return
        with background():
            yield

    app = RelaisApp(
        title="Relais",
        version="0.1.0",
        description="Self-hostable SMS engagement platform.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /openapi.json come from api/routes/api_docs.py, gated in production
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    middleware.install(app)
    app.provider_webhooks = ProviderFastPath(
        app.without_telemetry, settings=settings, limits=BodyLimits.from_settings(settings)
    )
    for router in discover_routers():
        app.include_router(router)
    return app
