"""Operator pages (``/docs``, ``/openapi.json``, ``/metrics``): open in development, signed-in in production.

In production the API description and the metrics help an attacker map the deployment, so they
need a console session or an API key of the allowed roles, unless the operator opens them on
purpose (``RELAIS_PUBLIC_DOCS`` / ``RELAIS_PUBLIC_METRICS``, e.g. behind a private network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Depends, Request

from api.deps import RoleGuard, optional_principal
from core.accounts import Principal
from core.rbac import Role


def operator_gate(opened_by: Literal["public_docs", "public_metrics"], *roles: Role) -> Callable[..., None]:
    """A dependency: pass outside production or when the ``opened_by`` setting is true; else ``roles`` only.

    Raises (from the dependency):
        Unauthorized: no credentials in production.
        Forbidden: a role outside ``roles`` (admin always passes).
    """
    guard = RoleGuard(frozenset(roles))

    def gate(request: Request, principal: Principal | None = Depends(optional_principal)) -> None:
        settings = request.app.state.settings
        if settings.env == "production" and not getattr(settings, opened_by):
            guard(principal)

    return gate
