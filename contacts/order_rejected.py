"""Where an order import hands its rejected rows: the CLI's CSV file, or an import job's table (``order_jobs``).

Every rejected row goes with its spreadsheet row number, the reasons and the row as read, as contact imports
write theirs, so a person fixes the rows and imports them again.
"""

from __future__ import annotations

import csv
from typing import IO, Protocol

from contacts.import_report import RowProblem
from core.spreadsheet import neutralise


class RejectedRows(Protocol):
    """Where ``contacts.order_import.import_orders`` hands every rejected row: the CLI's CSV
    (:class:`RejectedFile`) or a job's table (``contacts.order_jobs``). Problems of one row arrive together."""

    def header(self, columns: list[str]) -> None: ...

    def add(self, problem: RowProblem) -> None: ...

    def close(self) -> None: ...


class RejectedFile:
    """The rejected-rows CSV of an import, as contacts' imports write it: ``row``, ``reason``, the row as read.

    ``import_orders`` writes to it; problems of one row arrive together and share a line.
    Cells that a spreadsheet would run as formulas are neutralised (signed numbers stay as typed).
    """

    def __init__(self, out: IO[str]) -> None:
        self.writer = csv.writer(out)
        self.rows = 0
        self._pending: list[RowProblem] = []

    def header(self, columns: list[str]) -> None:
        self.writer.writerow(["row", "reason", *columns])

    def add(self, problem: RowProblem) -> None:
        if self._pending and self._pending[0].row != problem.row:
            self.close()
        self._pending.append(problem)

    def close(self) -> None:
        """Write the last row held back."""
        if not self._pending:
            return
        reason = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in self._pending)
        cells = next((p.cells for p in self._pending if p.cells is not None), ())
        safe = [neutralise(c, keep_signed_numbers=True) for c in cells]
        self.writer.writerow([str(self._pending[0].row), reason, *safe])
        self.rows += 1
        self._pending = []
