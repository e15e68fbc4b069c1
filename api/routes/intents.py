"""Intent models: list versions (agents, analysts), upload a spec to train a new one, activate or roll
back a version (admin). Training runs in the request (well under a minute for 150 intents)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session

from agent.runtime import intent_store
from agent.service import load_intents_data
from api.deps import actor, db_session, require
from core import audit
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from core.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["intents"])

MAX_SPEC_BYTES = 2 * 1024 * 1024


class VersionOut(BaseModel):
    version: str
    created_at: str
    backend: str
    spec_hash: str
    intents: list[str]
    metrics: dict[str, Any]
    active: bool


def _versions() -> list[VersionOut]:
    return [
        VersionOut(
            version=v.version,
            created_at=v.created_at,
            backend=v.backend,
            spec_hash=v.spec_hash,
            intents=list(v.intents),
            metrics=v.metrics,
            active=v.active,
        )
        for v in intent_store(get_settings()).versions()
    ]


def _one(version: str) -> VersionOut:
    return next(v for v in _versions() if v.version == version)


@router.get("/intents", response_model=list[VersionOut])
def list_versions(_: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> list[VersionOut]:
    """Stored intent models, oldest first; ``active`` marks the one the agent uses."""
    return _versions()


@router.post("/intents", response_model=VersionOut, status_code=201)
async def load_intents(
    request: Request,
    activate: bool = True,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
) -> VersionOut:
    """Train a model from the YAML spec in the request body (``application/yaml`` or JSON)."""
    raw = await request.body()
    if len(raw) > MAX_SPEC_BYTES:
        raise ValidationFailed(f"the spec is limited to {MAX_SPEC_BYTES // 1024} KB")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"the body is not valid UTF-8 YAML or JSON ({exc})") from None
    version = await run_in_threadpool(load_intents_data, data, source="request body", activate=activate)
    out = _one(version)
    audit.record(
        session,
        actor=actor(request, principal),
        action="intents.train",
        target_type="intent_model",
        target_id=version,
        diff={"intents": len(out.intents), "activated": activate},
    )
    return out


@router.post("/intents/{version}/activate", response_model=VersionOut)
def activate_version(
    version: str,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
) -> VersionOut:
    store = intent_store(get_settings())
    before = store.active_version()
    store.activate(version)
    audit.record(
        session,
        actor=actor(request, principal),
        action="intents.activate",
        target_type="intent_model",
        target_id=version,
        diff={"active": [before, version]},
    )
    return _one(version)


@router.post("/intents/rollback", response_model=VersionOut)
def rollback(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
) -> VersionOut:
    """Re-activate the previously active model."""
    store = intent_store(get_settings())
    before = store.active_version()
    version = store.rollback()
    audit.record(
        session,
        actor=actor(request, principal),
        action="intents.rollback",
        target_type="intent_model",
        target_id=version,
        diff={"active": [before, version]},
    )
    return _one(version)
