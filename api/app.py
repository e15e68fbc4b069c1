"""The FastAPI application: REST ``/api/v1``, webhooks, console, simulator, health and metrics.

Routers are discovered: every module in ``api/routes/`` (and ``api/console/``) that defines a
``router`` is included, so adding an area never means editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI

from api import errors, middleware
from core.logging import configure_logging
from core.runtime import bootstrap
from core.settings import Settings, get_settings

ROUTER_PACKAGES = ("api.routes", "api.console")


def discover_routers() -> list[APIRouter]:
    found: list[APIRouter] = []
    for package_name in ROUTER_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{package_name}.{info.name}")
            router = getattr(module, "router", None)
            if isinstance(router, APIRouter):
                found.append(router)
    return found


def _warm_up_agent_in_background(settings: Settings) -> None:
    """Load the models and knowledge base now, so the first customer does not wait seconds for it."""

    def warm() -> None:
        from agent.runtime import get_runtime

        try:
            get_runtime(settings).pipeline()
        except Exception:  # the inbound job reports the same problem with its context
            structlog.get_logger("relais.app").exception("agent warm-up failed")

    threading.Thread(target=warm, name="relais-agent-warm-up", daemon=True).start()


def create_app(settings: Settings | None = None, *, run_workers: bool = False) -> FastAPI:
    """Build the app; ``run_workers`` starts worker threads and the scheduler inside this process."""
    settings = bootstrap(settings or get_settings())
    configure_logging(json=settings.log_json, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not run_workers:
            yield
            return
        from workers.runner import BackgroundWorkers
        from workers.scheduler import PeriodicScheduler

        _warm_up_agent_in_background(settings)
        with BackgroundWorkers(settings.inbound_worker_threads), PeriodicScheduler():
            yield

    app = FastAPI(
        title="Relais",
        version="0.1.0",
        description="Self-hostable SMS engagement platform.",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.settings = settings
    errors.install(app)
    middleware.install(app)
    for router in discover_routers():
        app.include_router(router)
    return app
