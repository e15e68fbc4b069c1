"""Order import: a CSV or XLSX file of order lines (Online Retail's columns, or mapped) into contacts' orders.

One row is one order line; the rows of one order (same order id) must be next to each other, as
shop exports write them. An order goes in whole or not at all: when one of its rows is wrong, its
other rows are handed back too (code ``order_incomplete``), so fixing the rejected rows and
importing them again completes it. Rows are handed back, never silently dropped, with the
spreadsheet row number (header = 1) and a reason: a bad cell, a guest order (no customer),
a customer no contact matches (``unknown_customer``, see ``contacts.order_customers``).

Orders already recorded (same source ``import`` and order id) are counted, not recorded twice: importing
a file again adds nothing. Their status only moves forward, as a shop's webhooks move it: a later export
that shows an order paid or cancelled since (Shopify's ``Cancelled at``) updates it (``orders_updated``);
its lines are left as they were. An order whose quantities are all negative is a credit
note (Online Retail's ``C`` invoices) and is recorded ``cancelled``. Times without an offset are
taken as UTC; slash dates are read as the file's own dates show (``contacts.order_dates``), or as
``day_first`` says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session

from contacts.attributes import BadAttributeValue
from contacts.file_limits import FileLimits
from contacts.import_mapping import normalise_header
from contacts.import_report import MAX_REPORTED, RowProblem
from contacts.import_values import file_number
from contacts.importer import numbered_rows
from contacts.order_columns import CUSTOMER_FIELDS, header_with_orders, resolve
from contacts.order_customers import Customer, CustomerMatcher, customer_key
from contacts.order_dates import DateOrder, date_order, parse_time
from contacts.order_refunds import credit_note_id, with_refund
from contacts.order_rejected import RejectedRows
from contacts.orders import (
    MAX_QUANTITY,
    MAX_TOTAL_MICROS,
    MAX_UNIT_PRICE_MICROS,
    LineIn,
    OrderIn,
    advance_status,
    known_orders,
    moves_forward,
    record_orders,
    to_micros,
)
from contacts.tabular import FileShape, inspect, read_table
from core import audit
from core.audit import Actor
from core.errors import PayloadTooLarge, ValidationFailed

BATCH = 500  # orders per look-up and write
UNKNOWN = "no contact has this customer id, phone or e-mail"
GUEST = "no customer id, phone or e-mail: a guest order fits no contact"
SPLIT = "this order's rows are apart from its first rows: keep an order's rows together"
_STATUS_WORDS = {
    "paid": "paid", "payee": "paid", "complete": "paid", "completed": "paid", "fulfilled": "paid",
    "partially refunded": "paid",  # Shopify: paid, part of it given back (its amount is not read)
    "open": "open", "pending": "open", "authorized": "open", "unpaid": "open", "en attente": "open",
    "partially paid": "open",  # Shopify: a deposit taken, the rest due
    "cancelled": "cancelled", "canceled": "cancelled", "voided": "cancelled", "refunded": "cancelled",
    "expired": "cancelled", "annulee": "cancelled", "remboursee": "cancelled",
}  # fmt: skip
#: the order's own fields, as opposed to a line's: Shopify's export gives them on an order's first row only and
#: leaves them blank on its other lines (every such order was refused, "the rows of this order name different
#: customers"); a blank one on a later row is the first row's
ORDER_FIELDS = ("ordered_at", "customer_id", "phone", "email", "country", "currency", "status", "cancelled_at")


@dataclass(frozen=True)
class OrderImportOptions:
    mapping: Mapping[str, str] | None = None  # overrides of the automatic column mapping
    currency: str = ""  # for files without a currency column (Online Retail: GBP)
    day_first: bool | None = None  # 31/12/2011 (True) or 12/31/2011 (False); None: as the file's dates show
    region: str | None = None  # for national-format phone numbers
    dry_run: bool = False  # match and check everything, write nothing
    stop_after: int | None = None  # rows: stop at the first order past them (the console's preview); None: all


@dataclass
class OrderImportReport:
    """What an order import did (or, dry, would do). ``errors`` holds the first ``MAX_REPORTED``."""

    rows: int = 0
    orders_created: int = 0
    orders_existing: int = 0  # known already and left as they were
    orders_updated: int = 0  # known already, their status moved on (paid or cancelled since)
    lines: int = 0  # lines of the orders created (or, dry, that would be)
    error_count: int = 0
    unknown_customers: int = 0  # distinct customers no contact matched
    customers: int = 0  # distinct contacts whose orders were recorded or known already (none is created)
    refunds_created: int = 0  # credit notes of orders part refunded (contacts.order_refunds)
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    errors: list[RowProblem] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    date_order: str = ""  # how slash dates were read, in words ("" when the file has none)
    date_order_why: str = ""
    day_first: bool = False  # how slash dates were read (False too when the file has none)
    stopped_early: bool = False  # rows were left unread (``OrderImportOptions.stop_after``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_order": self.date_order, "date_order_why": self.date_order_why, "day_first": self.day_first,
            "rows": self.rows, "orders_created": self.orders_created, "orders_existing": self.orders_existing,
            "orders_updated": self.orders_updated, "lines": self.lines, "error_count": self.error_count,
            "unknown_customers": self.unknown_customers,
            "customers": self.customers, "refunds_created": self.refunds_created,
            "rejected_by_code": dict(sorted(self.rejected_by_code.items())),
            "errors": [e.as_dict() for e in sorted(self.errors, key=lambda e: e.row)],
            "mapping": self.mapping, "dry_run": self.dry_run,
        }  # fmt: skip


@dataclass
class _Line:
    number: int
    cells: list[str]
    values: dict[str, str]
    line: LineIn | None = None
    ordered_at: datetime | None = None
    cancelled_at: datetime | None = None  # Shopify's "Cancelled at": the order was cancelled then


@dataclass
class _Order:
    key: str
    lines: list[_Line] = field(default_factory=list)
    customer: Customer = field(default_factory=Customer)


class _Parser:
    def __init__(self, header: list[str], options: OrderImportOptions, *, day_first: bool = False) -> None:
        self.targets = resolve([h.strip() for h in header], options.mapping)
        self.header = [h.strip() for h in header]
        self.options = options
        self.day_first = day_first

    @property
    def mapping(self) -> dict[str, str]:
        return {self.header[i]: t for i, t in self.targets.items()}

    def column(self, target: str) -> str:
        """The file's header of ``target``; the customer's columns the file has when it has no customer id (a
        guest or unknown customer was said of "customer_id", a column the file did not have)."""
        found = [self.header[i] for i, t in self.targets.items() if t == target]
        if not found and target == "customer_id":
            found = [" / ".join(self.header[i] for i, t in self.targets.items() if t in CUSTOMER_FIELDS)]
        return found[0] if found else target

    def values(self, cells: list[str]) -> dict[str, str]:
        return {t: cells[i].strip() if i < len(cells) else "" for i, t in self.targets.items()}

    def line(self, row: _Line) -> list[RowProblem]:
        """Fill ``row.line`` and ``row.ordered_at``; the problems of the row otherwise."""
        values, problems = row.values, []

        def reject(target: str, code: str, message: str) -> None:
            problems.append(RowProblem(row.number, self.column(target), code, message, cells=tuple(row.cells)))

        if len(values["order_id"]) > 64:
            reject("order_id", "bad_order_id", "an order id has at most 64 characters")
        try:
            row.ordered_at = parse_time(values["ordered_at"], day_first=self.day_first)
        except ValueError:
            first = "31/12/2011 (day first)" if self.day_first else "12/31/2011 (month first)"
            reject("ordered_at", "bad_date", f"not a date such as 2011-12-31 08:26 or {first}")
        if values.get("cancelled_at"):
            try:
                row.cancelled_at = parse_time(values["cancelled_at"], day_first=self.day_first)
            except ValueError:
                reject("cancelled_at", "bad_date", "not the date and time the order was cancelled")
        try:
            quantity = float(values["quantity"].replace(",", "."))
            if quantity != int(quantity) or quantity == 0 or abs(quantity) > MAX_QUANTITY:
                raise ValueError
        except (ValueError, OverflowError):
            reject("quantity", "bad_quantity", f"not a whole number of units other than 0 (at most {MAX_QUANTITY:,})")
            quantity = 0
        try:
            price = to_micros(file_number(values["unit_price"]))
            if not 0 <= price <= MAX_UNIT_PRICE_MICROS:
                reject("unit_price", "bad_price", "a unit price is from 0 to a million")
        except (ValueError, BadAttributeValue):
            reject("unit_price", "bad_price", "not an amount such as 2.55 or 2,55")
            price = 0
        currency = values.get("currency", "") or self.options.currency
        if currency and (len(currency) != 3 or not currency.isalpha()):
            reject("currency", "bad_currency", "not an ISO 4217 code such as EUR")
        if values.get("status") and _status(values["status"]) is None:
            reject("status", "bad_status", "not paid, open or cancelled")
        if not problems:
            row.line = LineIn(product_id=values.get("product_id", ""), description=values.get("description", ""),
                              quantity=int(quantity), unit_price_micros=price)  # fmt: skip
        return problems

    def customer(self, values: dict[str, str]) -> Customer:
        return Customer(customer_id=customer_key(values.get("customer_id", "")), phone=values.get("phone", ""),
                        email=values.get("email", "").casefold())  # fmt: skip

    def order(self, pending: _Order) -> tuple[tuple[OrderIn, ...], str, str, str]:
        """The order of a complete run of rows and the credit note of a part refunded (``contacts.order_refunds``),
        or ((), target, code, message) when it cannot be one."""
        first = pending.lines[0].values
        customers = {self.customer(row.values) for row in pending.lines}
        if len(customers) > 1:
            return (), "customer_id", "mixed_customers", "the rows of this order name different customers"
        pending.customer = customers.pop()
        if pending.customer.empty:
            return (), "customer_id", "no_customer", GUEST
        lines = tuple(row.line for row in pending.lines if row.line is not None)
        credit_note = all(line.quantity < 0 for line in lines)
        # a cancelled order's lines are its purchase, reversed at ``cancelled_at`` (intelligence.history): it was
        # recorded as its payment status said, a cancelled order counted as spend
        cancelled_at = pending.lines[0].cancelled_at
        status = "cancelled" if credit_note or cancelled_at else _status(first.get("status", "")) or "paid"
        if abs(sum(line.quantity * line.unit_price_micros for line in lines)) > MAX_TOTAL_MICROS:
            return (), "quantity", "too_large", "the order's total is too large to store"
        try:
            refunded = to_micros(file_number(first.get("refunded") or "0"))
            if not 0 <= refunded <= MAX_TOTAL_MICROS:
                raise ValueError
        except (ValueError, BadAttributeValue):
            return (), "refunded", "bad_refund", "not an amount refunded such as 12.50 or 12,50"
        if refunded and len(credit_note_id(pending.key)) > 64:
            return (), "order_id", "bad_order_id", "an order id with a refund has at most 63 characters"
        order = OrderIn(source="import", external_id=pending.key, lines=lines, status=status,
                        ordered_at=min(row.ordered_at for row in pending.lines if row.ordered_at is not None),
                        currency=(first.get("currency") or self.options.currency).upper(),
                        country=first.get("country", ""), cancelled_at=cancelled_at)  # fmt: skip
        return with_refund(order, refunded), "", "", ""


def _status(word: str) -> str | None:
    """``paid``, ``open`` or ``cancelled`` for a status as a file writes it (``partially_refunded``, ``Payée``)."""
    return _STATUS_WORDS.get(normalise_header(word))


def _runs(parser: _Parser, rows: Iterator[tuple[int, list[str]]]) -> Iterator[_Order]:
    """Consecutive rows with one order id, as one pending order each; a later row's blank order fields are
    its first row's (:data:`ORDER_FIELDS`)."""
    current: _Order | None = None
    for number, cells in rows:
        values = parser.values(cells)
        key = values["order_id"]
        if current is None or key != current.key:
            if current is not None:
                yield current
            current = _Order(key)
        else:
            first = current.lines[0].values
            values.update({t: first[t] for t in ORDER_FIELDS if t in values and not values[t] and first.get(t)})
        current.lines.append(_Line(number, cells, values))
    if current is not None:
        yield current


def import_orders(
    session: Session,
    binary: IO[bytes],
    options: OrderImportOptions,
    *,
    filename: str = "",
    limits: FileLimits | None = None,
    rejected: RejectedRows | None = None,
    checkpoint: Callable[[OrderImportReport], None] | None = None,
    commit: bool = False,
    actor: Actor | None = None,
) -> OrderImportReport:
    """Import the orders of a CSV or XLSX file inside ``session``.

    Good orders are recorded; rows that cannot be are reported (``errors``, and every one to
    ``rejected``, a :class:`RejectedFile` or the job's table, with its cells). ``checkpoint`` is called
    with the report so far after each batch of :data:`BATCH` orders is recorded.

    ``commit`` (the API, the CLI and the console's job; never with ``dry_run``): ``session`` is committed after
    each batch, its rejected rows handed over first, so a 300,000-line file never holds one transaction (SQLite's
    write lock for a minute) and a failure keeps the batches before it; the error then says so, and importing the
    file again adds the rest (recorded orders count as already imported). Without it, the caller commits.

    ``actor`` (who imports; never with ``dry_run``): the import is audited here, ``orders.import`` with its counts,
    also when it stops after batches were committed (``partial``, what was recorded): the REST and CLI imports wrote
    no audit row then, although a person had changed many contacts' history.

    Raises:
        ValidationFailed / PayloadTooLarge: an empty, malformed or oversized file, a bad mapping,
            a required column missing; past a committed batch, the detail says what stays recorded.
    """
    committed = 0  # rows whose orders are committed
    audited = actor is not None and not options.dry_run
    recorded: dict[str, int] = {}  # the committed batches' counts

    def batch_done(report: OrderImportReport) -> None:
        nonlocal committed
        if checkpoint is not None:
            checkpoint(report)
        if commit and not options.dry_run:
            if rejected is not None:
                rejected.close()
            session.commit()
            committed = report.rows
            recorded.update(_counts(report))

    try:
        report = _import(session, binary, options, filename=filename, limits=limits, rejected=rejected,
                         batch_done=batch_done)  # fmt: skip
    except (ValidationFailed, PayloadTooLarge) as exc:
        if not committed:
            raise
        kept = (f"{exc.detail}. The orders of the first {committed:,} rows stay recorded: importing the file again "
                "once fixed adds the rest (those count as already imported)")  # fmt: skip
        if audited and actor is not None:
            session.rollback()  # the failed batch's rows; the committed ones stay
            _audit(session, recorded, actor=actor, filename=filename, stopped=str(exc.detail))
            session.commit()
        raise type(exc)(kept, errors=exc.errors) from exc
    if audited and actor is not None:
        _audit(session, _counts(report), actor=actor, filename=filename)
    return report


def _import(
    session: Session,
    binary: IO[bytes],
    options: OrderImportOptions,
    *,
    filename: str,
    limits: FileLimits | None,
    rejected: RejectedRows | None,
    batch_done: Callable[[OrderImportReport], None],
) -> OrderImportReport:
    limits = limits or FileLimits()
    shape = inspect(binary, filename, limits)
    dates = _date_order(binary, shape, limits, options)
    binary.seek(0)
    table = read_table(binary, shape, limits, header_with_orders(options.mapping))
    parser = _Parser(table.header, options, day_first=dates.day_first)
    report = OrderImportReport(
        mapping=parser.mapping,
        dry_run=options.dry_run,
        date_order=dates.words if dates.why else "",
        date_order_why=dates.why,
        day_first=dates.day_first,
    )
    if rejected is not None:
        rejected.header(parser.header)
    matcher = CustomerMatcher(session, region=options.region)
    seen: set[str] = set()
    unknown: set[Customer] = set()
    matched: set[int] = set()
    batch: list[tuple[_Order, tuple[OrderIn, ...]]] = []

    def reject(problem: RowProblem) -> None:
        report.error_count += 1
        report.rejected_by_code[problem.code] += 1
        if len(report.errors) < MAX_REPORTED:
            report.errors.append(problem)
        if rejected is not None:
            rejected.add(problem)

    def reject_order(pending: _Order, target: str, code: str, message: str) -> None:
        for row in pending.lines:
            reject(RowProblem(row.number, parser.column(target), code, message, cells=tuple(row.cells)))

    def flush() -> None:
        matcher.prefetch(pending.customer for pending, _ in batch)
        items: list[tuple[int, OrderIn]] = []
        refunds: list[bool] = []  # the order's credit note for a part refunded (contacts.order_refunds)
        for pending, orders in batch:
            contact_id = matcher.find(pending.customer)
            if contact_id is None:
                unknown.add(pending.customer)
                reject_order(pending, "customer_id", "unknown_customer", UNKNOWN)
            else:
                matched.add(contact_id)
                items.extend((contact_id, order) for order in orders)
                refunds.extend(i > 0 for i in range(len(orders)))
        if options.dry_run:
            known = known_orders(session, "import", (order.external_id for _, order in items))
            created = [order.external_id not in known for _, order in items]
            moved = [not new and moves_forward(known[order.external_id.strip()].status, order.status)
                     for (_, order), new in zip(items, created, strict=True)]  # fmt: skip
        else:
            recorded = record_orders(session, items)
            created = [one.created for one in recorded]
            moved = [not one.created and advance_status(session, one.order, order.status, at=order.cancelled_at)
                     for one, (_, order) in zip(recorded, items, strict=True)]  # fmt: skip
        for (_, order), new, updated, refund in zip(items, created, moved, refunds, strict=True):
            if refund:
                report.refunds_created += new
                continue
            report.orders_created += new
            report.orders_updated += updated
            report.orders_existing += not new and not updated
            report.lines += len(order.lines) if new else 0
        batch.clear()

    for pending in _runs(parser, numbered_rows(table.rows, limits, start=table.header_row + 1)):
        if options.stop_after is not None and report.rows >= options.stop_after:
            report.stopped_early = True
            break
        report.rows += len(pending.lines)
        if pending.key in seen:
            reject_order(pending, "order_id", "order_split", SPLIT)
            continue
        seen.add(pending.key)
        if not pending.key:
            reject_order(pending, "order_id", "no_order_id", "the order id is empty")
            continue
        problems = [problem for row in pending.lines for problem in parser.line(row)]
        if problems:
            bad = {problem.row for problem in problems}
            for problem in problems:
                reject(problem)
            for row in pending.lines:
                if row.number not in bad:
                    reject(RowProblem(row.number, parser.column("order_id"), "order_incomplete",
                                      "another row of this order was rejected", cells=tuple(row.cells)))  # fmt: skip
            continue
        orders, target, code, message = parser.order(pending)
        if not orders:
            reject_order(pending, target, code, message)
            continue
        batch.append((pending, orders))
        if len(batch) >= BATCH:
            flush()
            batch_done(report)
    flush()
    if report.rows == 0:
        raise ValidationFailed("the file has a header but no data rows", errors=[{"field": "file"}])
    report.unknown_customers = len(unknown)
    report.customers = len(matched)
    if rejected is not None:
        rejected.close()
    session.flush()
    return report


def _date_order(binary: IO[bytes], shape: FileShape, limits: FileLimits, options: OrderImportOptions) -> DateOrder:
    """How the file's slash dates read (``contacts.order_dates``): one pass over its date column first."""
    if options.day_first is not None:
        return date_order((), asked=options.day_first)
    table = read_table(binary, shape, limits, header_with_orders(options.mapping))
    position = next(i for i, t in _Parser(table.header, options).targets.items() if t == "ordered_at")
    cells = (
        (n, c[position]) for n, c in numbered_rows(table.rows, limits, start=table.header_row + 1) if position < len(c)
    )
    return date_order(cells, asked=None)


def _counts(report: OrderImportReport) -> dict[str, int]:
    keys = ("rows", "orders_created", "orders_existing", "orders_updated", "lines", "error_count")
    return {k: getattr(report, k) for k in keys}


def _audit(session: Session, counts: dict[str, int], *, actor: Actor, filename: str, stopped: str = "") -> None:
    """The audit row of an import that wrote (a person changed many contacts' history at once)."""
    diff: dict[str, Any] = {"filename": filename[:200], **counts}
    if stopped:
        diff |= {"partial": True, "stopped": stopped[:300]}
    audit.record(session, actor=actor, action="orders.import", target_type="orders", target_id=filename[:200],
                 diff=diff)
