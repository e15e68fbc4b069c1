"""The brand profile (marketer): voice, examples, banned/required terms, emoji policy, languages."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from campaigns import brand
from campaigns.schemas import BrandIn, BrandOut
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["brand"])
MARKETER = acting(Role.MARKETER)


@router.get("/brand", response_model=BrandOut)
def get_brand(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.MARKETER))
) -> BrandOut:
    return BrandOut.model_validate(brand.get_profile(session))


@router.put("/brand", response_model=BrandOut)
def put_brand(body: BrandIn, by: Acting = MARKETER) -> BrandOut:
    profile, diff = brand.update_profile(by.session, body)
    by.audit("brand.update", "brand", profile.id, diff)
    return BrandOut.model_validate(profile)
