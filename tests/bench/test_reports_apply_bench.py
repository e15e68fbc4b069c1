"""``bench.reports_apply`` run with tiny numbers so it cannot rot: it applies every report (the
bench itself stops when a row is left undelivered), prints its figures, and drops its database.

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


def test_reports_apply_bench_applies_every_report_and_cleans_up(server: str) -> None:
    prefix = own_database_prefix()
    done = subprocess.run(
        [sys.executable, "-m", "bench.reports_apply", "--rows", "60", "--batch", "25", "--rounds", "2",
         "--database-url", server, "--database-prefix", prefix],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "60 sent rows, one delivered report each, 25 per transaction, 2 rounds (postgresql)" in done.stdout
    line = r"^  (path|limit) +[\d.]+ s +[\d,]+ reports/s +process +[\d.]+ ms/report +postgresql +[\d.]+ ms/report$"
    figures = re.findall(line, done.stdout, flags=re.MULTILINE)
    assert figures == ["path", "limit"] * 3  # each round, then the medians
    assert "path / limit: reports/s" in done.stdout
    assert databases_named(server, prefix) == set()
