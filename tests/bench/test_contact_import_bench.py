"""``bench.contact_import`` run with tiny numbers so it cannot rot: the import succeeds with the
expected counts (the bench itself stops otherwise), prints its figures, and drops its database.

In a child process: the bench configures its own settings and engine for the database it creates.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.helpers import databases_named, own_database_prefix

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]


def test_contact_import_bench_imports_every_row_and_cleans_up(server: str) -> None:
    prefix = own_database_prefix()
    done = subprocess.run(
        [sys.executable, "-m", "bench.contact_import", "--rows", "1200", "--duplicates", "0.1",
         "--database-url", server, "--database-prefix", prefix],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1,200 rows (1,080 numbers, 120 repeated), 500 per transaction, postgresql" in done.stdout
    figures = re.findall(r"^  (path|limit) +[\d.]+ s +[\d,]+ rows/s +process", done.stdout, flags=re.MULTILINE)
    assert figures == ["path", "limit"]
    assert "path / limit: rows/s" in done.stdout and "path growth, last tenth" in done.stdout
    assert databases_named(server, prefix) == set()
