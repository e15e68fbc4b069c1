"""``POST /api/v1/agent/analyze``: what the agent makes of a message, stage by stage (agents, analysts).

Nothing is stored or sent: the answer shows language, sentiment, intent and confidence, the top
passages, the decision with its reason and reply, and the time each stage took.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from agent.context import Turn
from agent.runtime import DEFAULT_KB
from agent.service import analyze_text
from api.deps import require
from core.accounts import Principal
from core.bodies import RequestBody
from core.rbac import Role

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
async def analyze(body: AnalyzeIn, _: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> dict[str, Any]:
    """The full analysis of ``text``: ``decision`` (action, reason, reply, sources, path, timings), ``language``,
    ``sentiment``, ``intent`` (+ alternatives), ``passages``, ``questions``, ``injection``."""
    history = tuple(Turn(role=t.role, text=t.text) for t in body.history)
    analysis = await run_in_threadpool(
        analyze_text,
        body.text,
        language=body.language,
        kb=body.kb,
        use_llm=body.use_llm,
        history=history,
        opted_out=body.opted_out,
    )
    return analysis.to_dict(with_text=True)
