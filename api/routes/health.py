"""Liveness, readiness (database, Redis, vector store) and Prometheus metrics."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api import operations_metrics
from api.operator_gate import operator_gate
from core import db
from core.rbac import Role
from core.redis import get_redis

router = APIRouter(tags=["operations"])
# probes and scrapers; /metrics needs an admin or analyst in production (api.operator_gate)
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
log = structlog.get_logger("relais.health")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> None:
    with db.engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_vector_store(request: Request) -> None:
    # the process's own store (embedded Qdrant is single-process; a server URL is shared)
    from agent.runtime import get_runtime

    get_runtime(request.app.state.settings).knowledge.store.knowledge_bases()


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Each store ``ok`` or ``error``; the reason goes to the log, never to this anonymous answer."""
    checks: dict[str, Any] = {}
    settings = request.app.state.settings
    probes = {
        "database": _check_database,
        "redis": lambda: get_redis(settings).ping(),
        "vector_store": lambda: _check_vector_store(request),
    }
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception:
            log.exception("readiness check failed", check=name)
            checks[name] = "error"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", dependencies=[Depends(operator_gate("public_metrics", Role.ANALYST))])
def metrics() -> Response:
    """This process's own metrics (HTTP requests, Python runtime), then the deployment's backlog figures read
    from the shared stores (api/operations_metrics.py): the same on every API host."""
    return Response(generate_latest() + operations_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
