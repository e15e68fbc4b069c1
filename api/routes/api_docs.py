"""The OpenAPI description and Swagger UI, behind :mod:`api.operator_gate` in production.

FastAPI's own ``/docs`` and ``/openapi.json`` are switched off in ``api.app`` so these are the only
ones; every role may read them (integrators need the schema), anonymous callers only outside
production or with ``RELAIS_PUBLIC_DOCS=true``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.operator_gate import operator_gate
from core.rbac import ALL_ROLES

router = APIRouter(include_in_schema=False, dependencies=[Depends(operator_gate("public_docs", *ALL_ROLES))])
PUBLIC_PATHS = frozenset({"/docs", "/openapi.json"})  # anonymous outside production only (operator_gate)


@router.get("/openapi.json")
def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} API")
