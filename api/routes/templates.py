"""Message templates (marketer): create/update with validation, list, delete, preview for a contact."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from campaigns import preview, service, template_check
from campaigns.models import Template
from campaigns.schemas import PreviewIn, PreviewOut, TemplateIn, TemplateOut
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["templates"])


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.MARKETER))
) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in session.scalars(select(Template).order_by(Template.id))]


@router.post("/templates", response_model=TemplateOut, status_code=201)
def create_template(
    body: TemplateIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> TemplateOut:
    """Validated on save: unknown variables, missing defaults, unsafe constructs and media URLs that are
    not public answer 422."""
    template_check.check_media_urls(body.media)
    template = service.save_template(session, body)
    audit.record(
        session,
        actor=actor(request, principal),
        action="template.create",
        target_type="template",
        target_id=template.id,
        diff={"name": template.name, "kind": template.kind},
    )
    return TemplateOut.model_validate(template)


@router.get("/templates/{template_id}", response_model=TemplateOut)
def get_template(
    template_id: int,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.MARKETER)),
) -> TemplateOut:
    return TemplateOut.model_validate(service.get_template(session, template_id))


@router.put("/templates/{template_id}", response_model=TemplateOut)
def update_template(
    template_id: int,
    body: TemplateIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> TemplateOut:
    template = service.get_template(session, template_id)
    before = {"body": template.body, "name": template.name}
    template_check.check_media_urls(body.media)
    service.save_template(session, body, template)
    audit.record(
        session,
        actor=actor(request, principal),
        action="template.update",
        target_type="template",
        target_id=template.id,
        diff=audit.changes(before, {"body": template.body, "name": template.name}),
    )
    return TemplateOut.model_validate(template)


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(
    template_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> None:
    """409 while a campaign (main, translation or A/B arm) or a transactional event uses it."""
    template = service.get_template(session, template_id)
    name = template.name
    service.delete_template(session, template)
    audit.record(session, actor=actor(request, principal), action="template.delete", target_type="template",
                 target_id=template_id, diff={"name": name})


@router.post("/templates/preview", response_model=PreviewOut)
def preview_template(
    body: PreviewIn,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.MARKETER)),
) -> PreviewOut:
    """The text for a contact (or a sample), its encoding/segments, and recipients and cost for a segment."""
    return preview.preview(session, body)
