"""The brand profile (marketer): voice, examples, banned/required terms, emoji policy, languages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from campaigns import brand
from campaigns.schemas import BrandIn, BrandOut
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["brand"])


@router.get("/brand", response_model=BrandOut)
def get_brand(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.MARKETER))
) -> BrandOut:
    return BrandOut.model_validate(brand.get_profile(session))


@router.put("/brand", response_model=BrandOut)
def put_brand(
    body: BrandIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> BrandOut:
    profile, diff = brand.update_profile(session, body)
    audit.record(
        session,
        actor=actor(request, principal),
        action="brand.update",
        target_type="brand",
        target_id=profile.id,
        diff=diff,
    )
    return BrandOut.model_validate(profile)
