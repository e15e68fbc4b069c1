"""Logging keeps working after a runner swapped ``sys.stderr`` for a while and closed its stream
(click's CliRunner does: a later warning in the same process failed with "I/O operation on closed file")."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from core.logging import configure_logging


def test_a_logger_made_while_stderr_was_swapped_writes_to_the_current_one(monkeypatch: pytest.MonkeyPatch) -> None:
    runner_stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", runner_stream)
    configure_logging()
    log = structlog.get_logger("relais.test")
    log.warning("during the run")
    assert "during the run" in runner_stream.getvalue()
    runner_stream.close()
    restored = io.StringIO()
    monkeypatch.setattr(sys, "stderr", restored)
    log.warning("after the run")
    assert "after the run" in restored.getvalue()
