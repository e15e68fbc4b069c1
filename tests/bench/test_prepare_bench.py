"""``bench.prepare`` run with tiny numbers so it cannot rot: it prepares every recipient (the bench
itself stops when one is missing), prints its figures, and drops its database.

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


def test_prepare_bench_queues_every_recipient_and_cleans_up(server: str, redis_url: str) -> None:
    prefix = own_database_prefix()
    done = subprocess.run(
        [sys.executable, "-m", "bench.prepare", "--recipients", "40", "--rounds", "2", "--redis-url", redis_url,
         "--database-url", server, "--database-prefix", prefix],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line = r"^round \d: prepare +[\d.]+ s +[\d,]+ msgs/s +process +[\d.]+ ms/msg +postgresql +[\d.]+ ms/msg$"
    assert len(re.findall(line, done.stdout, flags=re.MULTILINE)) == 2, done.stdout
    assert "prepare ms/msg: process" in done.stdout
    assert databases_named(server, prefix) == set()
