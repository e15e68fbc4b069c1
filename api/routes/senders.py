"""Senders (long codes, short codes, toll-free, alphanumeric ids) and provider account rates (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from channels import senders
from channels.models import ProviderAccount, Sender
from core import audit
from core.accounts import Principal
from core.bodies import RequestBody
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["senders"])


class SenderIn(RequestBody):
    kind: str = Field(description="long_code, short_code, toll_free or alphanumeric")
    address: str
    country: str = Field("", description="ISO 3166 code the sender texts; empty = any")
    capabilities: list[str] = Field(default_factory=lambda: ["sms"])
    throughput: float = Field(1.0, gt=0, description="messages per second")
    status: str = "active"
    provider_account: str = "default"


class SenderPatch(RequestBody):
    country: str | None = None
    capabilities: list[str] | None = None
    throughput: float | None = Field(None, gt=0)
    status: str | None = None
    provider_account: str | None = None


class SenderOut(BaseModel):
    id: int
    kind: str
    address: str
    country: str
    capabilities: list[str]
    throughput: float
    status: str
    provider_account: str
    created_at: datetime


class AccountIn(RequestBody):
    throughput: float = Field(gt=0, description="messages per second for the whole account")


class AccountOut(BaseModel):
    name: str
    throughput: float


def _out(sender: Sender) -> SenderOut:
    return SenderOut.model_validate(sender, from_attributes=True)


@router.get("/senders", response_model=list[SenderOut])
def list_senders(
    status: str | None = None,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.ADMIN)),
) -> list[SenderOut]:
    return [_out(s) for s in senders.list_senders(session, status=status)]


@router.post("/senders", response_model=SenderOut, status_code=201)
def create_sender(
    body: SenderIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> SenderOut:
    sender = senders.create_sender(session, **body.model_dump(), region=request.app.state.settings.default_region)
    audit.record(
        session,
        actor=actor(request, principal),
        action="sender.create",
        target_type="sender",
        target_id=sender.id,
        diff=body.model_dump(),
    )
    return _out(sender)


@router.patch("/senders/{sender_id}", response_model=SenderOut)
def update_sender(
    sender_id: int,
    body: SenderPatch,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> SenderOut:
    changes = body.model_dump(exclude_none=True)
    sender = senders.update_sender(session, sender_id, **changes)
    audit.record(
        session,
        actor=actor(request, principal),
        action="sender.update",
        target_type="sender",
        target_id=sender.id,
        diff=changes,
    )
    return _out(sender)


@router.get("/provider-accounts", response_model=list[AccountOut])
def list_accounts(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.ADMIN))
) -> list[AccountOut]:
    return [AccountOut(name=n, throughput=t) for n, t in sorted(senders.account_rates(session).items())]


@router.put("/provider-accounts/{name}", response_model=AccountOut)
def set_account(
    name: str,
    body: AccountIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> AccountOut:
    account: ProviderAccount = senders.set_account_rate(session, name=name, throughput=body.throughput)
    audit.record(
        session,
        actor=actor(request, principal),
        action="provider_account.rate",
        target_type="provider_account",
        target_id=account.name,
        diff={"throughput": body.throughput},
    )
    return AccountOut(name=account.name, throughput=account.throughput)
