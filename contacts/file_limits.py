"""What an imported file may hold (``RELAIS_IMPORT_MAX_*``): one value read by the CSV and workbook readers alike.

Its own module so ``contacts.tabular`` (which dispatches to the workbook reader) and ``contacts.tabular_xlsx``
(which checks the same limits) both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings


@dataclass(frozen=True)
class FileLimits:
    """What an import accepts (``RELAIS_IMPORT_MAX_*``)."""

    max_bytes: int = 50 * 1024 * 1024
    max_rows: int = 2_000_000
    max_cell: int = 2000
    max_columns: int = 200

    @classmethod
    def of(cls, settings: Settings) -> FileLimits:
        return cls(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_cell=settings.import_max_cell_chars,
            max_columns=settings.import_max_columns,
        )
