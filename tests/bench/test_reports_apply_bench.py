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
import sqlalchemy as sa

from tests.helpers import skip_unless_ci

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]


def _bench_databases(server: str) -> set[str]:
    engine = sa.create_engine(server)
    with engine.connect() as conn:
        names = set(conn.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'relais_bench_%'")))
    engine.dispose()
    return names


def test_reports_apply_bench_applies_every_report_and_cleans_up(postgres_url: str | None) -> None:
    if postgres_url is None:
        skip_unless_ci("PostgreSQL is not reachable on 127.0.0.1:5432 and RELAIS_TEST_DATABASE_URL is unset")
    before = _bench_databases(postgres_url)
    done = subprocess.run(
        [sys.executable, "-m", "bench.reports_apply", "--rows", "60", "--batch", "25", "--rounds", "2",
         "--database-url", postgres_url],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "60 sent rows, one delivered report each, 25 per transaction, 2 rounds (postgresql)" in done.stdout
    figures = re.findall(r"^  (path|limit) +[\d,]+ reports/s +process +[\d.]+ ms/report +postgresql +[\d.]+ ms/report$",
                         done.stdout, flags=re.MULTILINE)
    assert figures == ["path", "limit"] * 3  # each round, then the medians
    assert "path / limit: reports/s" in done.stdout
    assert _bench_databases(postgres_url) == before
