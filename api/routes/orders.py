"""Orders (purchase history): import a file of order lines, record one order, list a contact's orders.

Marketers write; agents may read a contact's orders as they read the contact. The import runs in
the request, committing after each batch of orders (orders already recorded are left as they were, so a
retry after a failure adds only the rest) and answers with its report: rows handed back carry their
spreadsheet row number and reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from api.uploads import Upload, uploaded
from contacts.file_limits import FileLimits
from contacts.import_mapping import parse_mapping
from contacts.order_import import OrderImportOptions, import_orders
from contacts.order_schemas import OrderBody, OrderOut
from contacts.orders import list_orders, record_customer_order, record_order, with_lines
from conversations import visibility
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["orders"])
READERS = require(Role.MARKETER, Role.AGENT)
WRITERS = require(Role.MARKETER)


@router.post("/orders/import")
def import_order_file(
    request: Request,
    mapping: str | None = Query(None, description='JSON {"file column": "order_id" | "customer_id" | ... | "ignore"}'),
    currency: str = Query("", max_length=3, description="ISO 4217 code for files without a currency column"),
    day_first: bool | None = Query(None, description="slash dates are day first (31/12/2011: true) or month first "
                                   "(12/31/2011: false); unset, the file's own dates decide (the report says how)"),
    dry_run: bool = Query(False, description="match and check everything, record nothing"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
    upload: Upload = Depends(uploaded, scope="function"),
) -> dict[str, Any]:
    """Import a CSV or XLSX file of order lines (Online Retail's columns, Shopify's export, or mapped).

    Send it as ``text/csv``, XLSX, or multipart with a ``file`` part (and an optional ``mapping``
    field). Answers the report: orders created and already known, lines, and the rows handed back
    (first 1,000, with row numbers and reasons; ``rejected_by_code`` counts them all). A file
    problem (size, encoding, a required column missing) is a 413 or 422 and records nothing; one found
    after a batch was committed (a malformed line far down) is a 422 saying which rows' orders stay recorded.
    """
    settings = request.app.state.settings
    limits = FileLimits.of(settings)
    options = OrderImportOptions(mapping=parse_mapping(mapping or upload.mapping), currency=currency.upper(),
                                 day_first=day_first, region=settings.default_region, dry_run=dry_run)  # fmt: skip
    report = import_orders(session, upload.binary, options, filename=upload.filename, limits=limits, commit=True,
                           actor=actor(request, principal))
    return report.as_dict()


@router.post("/orders", status_code=201)
def create_order(
    request: Request,
    body: OrderBody,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> OrderOut:
    """Record one order (source ``api``) of a contact named by ``contact_id`` or ``customer``.

    201 when recorded, 200 with the order as first recorded when ``external_id`` is known already.
    404 when no contact matches; 422 for a bad field (named).
    """
    order = body.order()
    if body.contact_id is not None:
        recorded = record_order(session, contact_id=body.contact_id, order=order)
    else:
        region = request.app.state.settings.default_region
        recorded = record_customer_order(session, customer=body.who(), order=order, region=region)
    if recorded.created:
        audit.record(session, actor=actor(request, principal), action="order.create", target_type="order",
                     target_id=recorded.order.id, diff={"external_id": order.external_id})  # fmt: skip
    else:
        response.status_code = 200
    return OrderOut.of(with_lines(session, [recorded.order])[0])


@router.get("/contacts/{contact_id}/orders")
def contact_orders(
    contact_id: int,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> list[OrderOut]:
    """A contact's orders, newest first, with their lines (404 for an unknown contact, or for an agent one without
    a conversation)."""
    visibility.readable_contact(session, principal.role, contact_id)
    return [OrderOut.of(view) for view in list_orders(session, contact_id, limit=limit, offset=offset)]
