"""``POST /api/v1/agent/analyze``: what the agent makes of a message, stage by stage (agents, analysts);
``GET|PUT /api/v1/agent/profile``: the business profile (brand voice, hours) every host reads.

Analysis stores and sends nothing: the answer shows language, sentiment, intent and confidence, the
top passages, the decision with its reason and reply, and the time each stage took.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent.context import Turn
from agent.profile import MAX_PROFILE_BYTES, parse_profile_text
from agent.runtime import DEFAULT_KB, profile_store
from agent.service import analyze_text
from api.deps import actor, db_session, raw_body, require
from core import audit
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import ValidationFailed
from core.rbac import Role
from core.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["agent"])


class TurnIn(RequestBody):
    role: Literal["customer", "bot", "agent"]
    text: str = Field(max_length=1600)


class AnalyzeIn(RequestBody):
    text: str = Field(max_length=1600)
    language: str | None = Field(None, description="The contact's known language (prior for short messages).")
    kb: str = DEFAULT_KB
    use_llm: bool = Field(True, description="Allow the LLM path when one is configured.")
    opted_out: bool = False
    history: list[TurnIn] = Field(default_factory=list, max_length=20)


@router.post("/agent/analyze")
def analyze(body: AnalyzeIn, _: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> dict[str, Any]:
    """The full analysis of ``text``: ``decision`` (action, reason, reply, sources, path, timings), ``language``,
    ``sentiment``, ``intent`` (+ alternatives), ``passages``, ``questions``, ``injection``."""
    history = tuple(Turn(role=t.role, text=t.text) for t in body.history)
    analysis = analyze_text(
        body.text,
        language=body.language,
        kb=body.kb,
        use_llm=body.use_llm,
        history=history,
        opted_out=body.opted_out,
    )
    return analysis.to_dict(with_text=True)


class ProfileOut(BaseModel):
    document: str = Field(description="the profile as YAML ('' when none was installed: defaults apply)")
    business: str
    timezone: str
    always_open: bool


def _profile_out(session: Session | None = None) -> ProfileOut:
    settings = get_settings()
    store = profile_store(settings)
    document = store.document(session=session) or ""
    profile = parse_profile_text(document or "{}", settings=settings)
    return ProfileOut(document=document, business=profile.brand.business, timezone=profile.hours.timezone,
                      always_open=profile.hours.always_open)


@router.get("/agent/profile", response_model=ProfileOut)
def get_profile(_: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> ProfileOut:
    """The business profile the agent uses on every host."""
    return _profile_out()


@router.put("/agent/profile", response_model=ProfileOut)
def put_profile(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
    raw: bytes = Depends(raw_body),
) -> ProfileOut:
    """Replace the business profile with the YAML (or JSON) body: ``brand`` and ``hours`` (admin, audited).

    A bad profile is a 422 naming the section and field; the stored one is left as it was.
    """
    if len(raw) > MAX_PROFILE_BYTES:
        raise ValidationFailed(f"the profile is limited to {MAX_PROFILE_BYTES // 1024} KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the body is not valid UTF-8 ({exc})") from None
    settings = get_settings()
    store = profile_store(settings)
    before = store.document(session=session) or ""
    store.save(text, settings=settings, source="request body", session=session)
    audit.record(session, actor=actor(request, principal), action="agent.profile.update", target_type="profile",
                 target_id="business", diff={"document": [before, text]})
    return _profile_out(session)
