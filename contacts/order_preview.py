"""What importing an order file would do, before anything is written: the console's preview step.

The columns recognised (or chosen), the first rows as they will be read (the date as read, the quantity, the
price), which way slash dates read and why, and the counts and rejected rows of a dry run of the import
itself (``contacts.order_import.import_orders`` with ``dry_run``): the preview is the import minus the
writing, never a second reading of the file. A file that cannot be imported yet says why (``problem``), and
one whose dates read both ways asks which (``ask_day_first``) rather than guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from typing import IO, Any

from sqlalchemy.orm import Session

from contacts.file_limits import FileLimits
from contacts.importer import numbered_rows
from contacts.order_columns import FIELDS, header_with_orders, recognised, resolve
from contacts.order_dates import parse_time
from contacts.order_import import OrderImportOptions, OrderImportReport, import_orders
from contacts.tabular import inspect, read_table
from core.errors import ValidationFailed

SHOWN_ROWS = 10
#: rows the preview's dry run reads: a 320,000-line export took 25 s to check in full, each change of a column or
#: of the dates' way; the job checks every row
CHECKED_ROWS = 20_000


@dataclass(frozen=True)
class PreviewColumn:
    column: str
    target: str  # one of contacts.order_columns.FIELDS, or "ignore"
    chosen: bool  # the person's choice rather than recognised from the header


@dataclass(frozen=True)
class PreviewRow:
    row: int  # spreadsheet row number
    values: dict[str, str]  # target → the cell as read; "ordered_at" as read with the date order
    problems: list[dict[str, Any]]


@dataclass
class OrderPreview:
    filename: str
    format: str
    columns: list[PreviewColumn]
    notes: list[str]  # which part of the file is read (a title row above the header, a workbook's sheet)
    rows: list[PreviewRow] = field(default_factory=list)
    report: OrderImportReport | None = None  # the dry run, when the file can be imported as chosen
    problem: str = ""  # why it cannot be, in words
    ask_day_first: bool = False  # slash dates that read both ways: the person must say which
    rows_estimate: int | None = None  # the file's rows, estimated from its size (the report counts those checked)

    @property
    def ready(self) -> bool:
        return self.report is not None

    def as_json(self) -> dict[str, Any]:
        """JSON-safe, as stored with a draft (``contacts.import_drafts``): the report without its problems (the
        rows shown carry theirs), its reasons most frequent first."""
        found = asdict(self)
        if self.report is not None:
            report = {k: v for k, v in self.report.as_dict().items() if k != "errors"}
            report["rejected_by_code"] = dict(self.report.rejected_by_code.most_common())
            found["report"] = {**report, "stopped_early": self.report.stopped_early}
        return {**found, "ready": self.ready}


def preview(
    session: Session,
    binary: IO[bytes],
    *,
    filename: str,
    options: OrderImportOptions,
    limits: FileLimits,
    checked_rows: int = CHECKED_ROWS,
) -> OrderPreview:
    """The preview of ``binary`` imported with ``options`` (nothing is written); the counts are those of the
    first orders within ``checked_rows`` (``report.stopped_early`` says when the file holds more).

    Raises:
        PayloadTooLarge / ValidationFailed: a file that cannot be read at all (size, encoding, no rows).
    """
    shape = inspect(binary, filename, limits)
    table = read_table(binary, shape, limits, header_with_orders(options.mapping))
    header = [h.strip() for h in table.header]
    first = list(islice(numbered_rows(table.rows, limits, start=table.header_row + 1), SHOWN_ROWS))
    found = OrderPreview(filename=filename, format=shape.format, columns=[], notes=table.notes(),
                         rows_estimate=shape.rows_estimate)  # fmt: skip
    chosen = {name: target for name, target in (options.mapping or {}).items() if target in (*FIELDS, "ignore")}
    try:
        targets = resolve(header, options.mapping)
    except ValidationFailed as exc:
        targets = {p: t for p, t in recognised(header).items() if header[p] not in chosen and t not in chosen.values()}
        targets.update({header.index(n): t for n, t in chosen.items() if n in header and t != "ignore"})
        found.problem = exc.detail
    found.columns = [PreviewColumn(name, targets.get(p, "ignore"), name in chosen) for p, name in enumerate(header)]
    if not found.problem:
        binary.seek(0)
        try:
            checked = replace(options, dry_run=True, stop_after=checked_rows)
            found.report = import_orders(session, binary, checked, filename=filename, limits=limits)
        except ValidationFailed as exc:
            found.ask_day_first = any(e.get("field") == "day_first" for e in exc.errors)
            found.problem = exc.detail
    day_first = found.report.day_first if found.report else bool(options.day_first)
    problems: dict[int, list[dict[str, Any]]] = {}
    for problem in found.report.errors if found.report else []:
        problems.setdefault(problem.row, []).append(problem.as_dict())
    for number, cells in first:
        values = {t: cells[p].strip() if p < len(cells) else "" for p, t in targets.items()}
        if values.get("ordered_at") and not found.ask_day_first:
            values["ordered_at"] = _as_read(values["ordered_at"], day_first=day_first)
        found.rows.append(PreviewRow(number, values, problems.get(number, [])))
    return found


def _as_read(text: str, *, day_first: bool) -> str:
    """The date as the import will store it, in words no one reads two ways (``05 Jan 2024 10:00``, with the
    offset the file gives)."""
    try:
        moment = parse_time(text, day_first=day_first)
    except ValueError:
        return f"{text} (not a date)"
    return moment.strftime("%d %b %Y %H:%M") + (moment.strftime(" %z") if moment.tzinfo else "")
