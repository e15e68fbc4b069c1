"""Jobs for tests that run real worker processes (referenced by dotted path, so importable there)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def touch(path: str) -> str:
    """Leave a mark the test can see from its own process."""
    Path(path).write_text("done")
    return path


def kill_the_worker(path: str) -> None:
    """Count a start, then end the whole process at once, as a segfault or the OOM killer would."""
    with Path(path).open("a") as marks:
        marks.write("start\n")
    os._exit(1)


def freeze(path: str, seconds: float) -> None:
    """Count a start, then hold the worker past the job's timeout."""
    with Path(path).open("a") as marks:
        marks.write("start\n")
    time.sleep(seconds)


def hold(path: str, seconds: float) -> None:
    """Count a start, then hold the worker deaf to its timeout (SIGALRM blocked), as a C call holding
    the GIL would: only something outside the process can end it."""
    with Path(path).open("a") as marks:
        marks.write("start\n")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
