"""The order history import: upload → preview (columns, dates, counts, rejected rows) → import as a job → report.

Marketers load the order history every prediction learns from here, as they load contacts on
``/console/imports``, through the same steps (``api.console.import_steps``): the chosen file is stored as it
comes and a worker previews it (``contacts.import_drafts``, running ``contacts.order_preview``, a dry run of the
import, writing nothing) while the page polls; each change of a column's field, of the way slash dates read or of
the currency previews the stored file again, and "Import the orders" starts the background job on it
(``contacts.order_jobs``, running ``contacts.order_import.import_orders`` as ``POST /api/v1/orders/import`` and
``relais orders import`` do). Its fragment polls itself until the job ends, then shows the report and what
happens next: the daily scoring recomputes the predictions, or "Score now" queues it (the REST route's function,
audited there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.console import ConsoleRoute, import_steps, render
from api.deps import Acting, acting, db_session, posted_form, require
from api.routes import intelligence as rest_intelligence
from contacts import import_jobs, order_jobs
from contacts.models import ContactImport
from contacts.order_columns import FIELDS
from contacts.order_import import OrderImportOptions
from core import db
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from core.settings import Settings
from intelligence.scoring import MIN_CUSTOMERS

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
PAGE = "/console/order-imports"
FIELD_LABELS = {
    "order_id": "Order number",
    "ordered_at": "Order date",
    "product_id": "Product code (SKU)",
    "description": "Product name",
    "quantity": "Quantity",
    "unit_price": "Unit price",
    "customer_id": "Customer number (the shop's)",
    "phone": "Customer's phone number",
    "email": "Customer's e-mail",
    "country": "Country",
    "currency": "Currency",
    "status": "Payment status",
    "refunded": "Amount refunded",
    "cancelled_at": "Cancelled at (date)",
    "ignore": "Do not import",
}
TARGETS = [(name, FIELD_LABELS[name]) for name in (*FIELDS, "ignore")]
#: why rows were handed back, in a marketer's words (codes: docs/contacts.md, "Importing order files")
REASONS = {
    "unknown_customer": "no contact has this customer (import them as contacts first, with their customer number, "
    "phone or e-mail)",
    "no_customer": "guest orders: no customer number, phone or e-mail",
    "order_incomplete": "another row of the same order was rejected (the order goes in whole or not at all)",
    "bad_date": "the date is not a date",
    "bad_quantity": "the quantity is not a whole number",
    "bad_price": "the price is not an amount",
    "bad_refund": "the amount refunded is not an amount",
    "bad_currency": "the currency is not a code such as EUR",
    "bad_status": "the payment status is not paid, pending or refunded",
    "bad_order_id": "the order number is too long",
    "no_order_id": "the order number is empty",
    "mixed_customers": "the rows of one order name different customers",
    "order_split": "an order's rows are apart from each other in the file",
    "too_large": "the order's total is too large",
}


def _options(form: FormData, settings: Settings, filename: str) -> dict[str, Any]:
    """The page's choices: each column's field, which way slash dates read (``day`` / ``month``; empty: as the
    file's dates show), the currency."""
    day_first = {"day": True, "month": False}.get(str(form.get("day_first") or ""))
    currency = str(form.get("currency") or "").strip().upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise ValidationFailed("the currency is a code of three letters such as EUR", errors=[{"field": "currency"}])
    options = OrderImportOptions(mapping=import_steps.mapping(form), currency=currency, day_first=day_first,
                                 region=settings.default_region)  # fmt: skip
    return order_jobs.options_json(options)


def _context(
    session: Session, principal: Principal, preview: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    return {"targets": TARGETS, "labels": FIELD_LABELS, "reasons": REASONS, "day_first": options.get("day_first"),
            "currency": options.get("currency") or ""}  # fmt: skip


DRAFTS = import_steps.ImportPage(kind=order_jobs.KIND, path=PAGE,
                                 preview_template="console/_order_import_preview.html", options=_options,
                                 context=_context)  # fmt: skip
import_steps.add_routes(router, DRAFTS, readers=MARKETERS, writers=MARKETER)


@router.get("/order-imports", response_class=HTMLResponse)
def order_import_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return render(request, "console/order_imports.html", {"recent": order_jobs.recent(session)}, principal=principal)


@router.post("/order-imports", response_class=HTMLResponse)
def start_import(by: Acting = MARKETER, form: FormData = Depends(posted_form)) -> HTMLResponse:
    """Start the background import of the previewed file (audited); answers with its progress."""
    job = import_steps.start(DRAFTS, by, form)
    return _progress(by.request, by.session, by.principal, job)


def _job_context(session: Session, job: ContactImport) -> dict[str, Any]:
    summary = job.summary or {}
    return {
        "job": job,
        "min_customers": MIN_CUSTOMERS,
        "finished": job.status in import_jobs.FINISHED,
        "summary": summary,
        "reasons": REASONS,
        "rejected_by_code": sorted((summary.get("rejected_by_code") or {}).items(), key=lambda item: -item[1]),
        "errors": import_jobs.problems(session, job.id, errors=True, limit=20),
    }


def _progress(request: Request, session: Session, principal: Principal, job: ContactImport) -> HTMLResponse:
    """The progress or report fragment; on the imports page, with the recent list redrawn when the import just
    started or ended (it read "No order import yet." under the report)."""
    context = _job_context(session, job)
    on_page = urlsplit(request.headers.get("hx-current-url", "")).path == PAGE
    if on_page and (context["finished"] or request.method == "POST"):
        context["recent"] = order_jobs.recent(session)
    return render(request, "console/_order_import_progress.html", context, principal=principal)


@router.get("/order-imports/{import_id}", response_class=HTMLResponse)
def import_status(
    request: Request,
    import_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """An order import's progress or report (the fragment HTMX polls) or, on a page load, the page around it."""
    job = order_jobs.get(session, import_id)
    if "hx-request" in request.headers:
        return _progress(request, session, principal, job)
    return render(request, "console/order_import.html", _job_context(session, job), principal=principal)


@router.get("/order-imports/{import_id}/rejected.csv")
def rejected_csv(
    import_id: int,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(MARKETERS),
) -> StreamingResponse:
    """Every rejected row: ``row`` (the spreadsheet's number), ``reason``, then the row as uploaded."""
    order_jobs.get(session, import_id)

    def chunks() -> Iterator[str]:
        with db.session_scope() as reader:  # the request's session ends with the response's head
            yield from import_jobs.rejected_csv(reader, order_jobs.get(reader, import_id))

    headers = {"Content-Disposition": f'attachment; filename="order-import-{import_id}-rejected.csv"'}
    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/order-imports/score", response_class=HTMLResponse)
def score_now(by: Acting = MARKETER) -> HTMLResponse:
    """Queue the scoring of every contact now (``POST /api/v1/intelligence/score``'s function, audited there)."""
    scoring = rest_intelligence.request_scoring(by.request, by.session, by.principal)
    context = {"scoring": scoring, "min_customers": MIN_CUSTOMERS}
    return render(by.request, "console/_order_import_scoring.html", context, principal=by.principal)
