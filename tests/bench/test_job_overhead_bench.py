"""``bench.job_overhead`` run with tiny numbers so it cannot rot: every step drains its jobs (the bench
stops on a job left queued or failed), each figure line is printed, and its redis-server goes away.

In a child process: the bench configures this process's settings for the Redis it starts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import skip_unless_ci

REPO = Path(__file__).resolve().parents[2]
FIGURE = (r"^  {label} +[\d,]+ jobs/s  client +[\d.]+ ms/job  redis +[\d.]+ ms/job"
          r" +[\d.]+ commands/job +[\d.]+ reads/job$")


def test_job_overhead_bench_drains_every_step_and_prints_its_figures() -> None:
    if shutil.which("redis-server") is None:
        skip_unless_ci("redis-server is not installed")
    done = subprocess.run([sys.executable, "-m", "bench.job_overhead", "--jobs", "30"], cwd=REPO,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("core.queue.enqueue \\(path\\)", "limit: RQ Queue.enqueue, no options", "limit: LPUSH",
                  "relais worker: keeper \\+ resident worker \\(path\\)", "limit: rq worker -w SimpleWorker",
                  "limit: BRPOP loop"):  # fmt: skip
        assert re.search(FIGURE.format(label=label), done.stdout, flags=re.MULTILINE), (label, done.stdout)
    assert "run path / rq limit: jobs/s" in done.stdout and "a job's fixed cost on the path" in done.stdout
    port = re.search(r"of its own on port (\d+)", done.stdout)
    assert port is not None
    assert subprocess.run(["redis-cli", "-p", port.group(1), "ping"], capture_output=True, check=False).returncode != 0
