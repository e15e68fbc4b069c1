"""Segments: saved JSON rules over contacts (grammar in ``contacts.segments``) and live counts.

Marketers write; marketers and analysts read saved segments and count them. Counting *unsaved* rules
(``/segments/preview``) is for composing a segment and is the marketer's: for an analyst, who reads no
contact and no one's predictions, it was an oracle (a customer number and a bisected prediction
threshold gave one named person's score; docs/security.md, "Roles").
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from campaigns import prediction_rules
from contacts import segments
from contacts.models import Segment
from contacts.schemas import CountOut, LeftOutOut, PreviewOut, RulesIn, SegmentIn, SegmentOut, SegmentPatch
from core import audit
from core.accounts import Principal
from core.db import utcnow
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["segments"])
READERS = require(Role.MARKETER, Role.ANALYST)
COMPOSERS = require(Role.MARKETER)
WRITER = acting(Role.MARKETER)


def _out(segment: Segment) -> SegmentOut:
    return SegmentOut.model_validate(segment, from_attributes=True)


@router.get("/segments", response_model=list[SegmentOut])
def list_segments(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[SegmentOut]:
    return [_out(s) for s in session.scalars(select(Segment).order_by(Segment.id))]


@router.post("/segments", response_model=SegmentOut, status_code=201)
def create_segment(body: SegmentIn, by: Acting = WRITER) -> SegmentOut:
    segment = segments.create(by.session, name=body.name, rules=body.rules, description=body.description)
    by.audit("segment.create", "segment", segment.id, {"segment": segment.name, "rules": segment.rules})
    return _out(segment)


@router.post("/segments/preview", response_model=PreviewOut)
def preview_count(
    body: RulesIn, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(COMPOSERS)
) -> PreviewOut:
    """How many contacts unsaved rules match right now (marketers: any rules single a person out), and for each
    prediction kind they read, how many they leave out for want of one yet (``left_out``, only kinds leaving some)."""
    count = segments.count(session, body.rules)
    gaps = prediction_rules.left_out(session, body.rules, now=utcnow())
    return PreviewOut(count=count, left_out=[LeftOutOut.model_validate(gap, from_attributes=True) for gap in gaps])


@router.get("/segments/{segment_id}", response_model=SegmentOut)
def get_segment(
    segment_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> SegmentOut:
    return _out(segments.get(session, segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: int, body: SegmentPatch, by: Acting = WRITER) -> SegmentOut:
    segment = segments.get(by.session, segment_id)
    before = {"segment": segment.name, "rules": segment.rules}
    segments.update(by.session, segment, name=body.name, rules=body.rules, description=body.description)
    by.audit("segment.update", "segment", segment.id,
             audit.changes(before, {"segment": segment.name, "rules": segment.rules}))
    return _out(segment)


@router.delete("/segments/{segment_id}", status_code=204)
def delete_segment(segment_id: int, by: Acting = WRITER) -> None:
    segment = segments.get(by.session, segment_id)
    by.session.delete(segment)
    by.audit("segment.delete", "segment", segment_id, {"segment": segment.name})


@router.get("/segments/{segment_id}/count", response_model=CountOut)
def segment_count(
    segment_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> CountOut:
    """The live size of a saved segment (one COUNT query)."""
    return CountOut(count=segments.count(session, segments.get(session, segment_id).rules))
