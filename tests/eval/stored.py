"""Publish a report as ``relais eval run`` does, at a chosen time, for tests of what reads them."""

from __future__ import annotations

from datetime import datetime

from core import db
from eval.report import Report
from eval.store import publish


def stored(report: Report, at: datetime) -> str:
    """The id of ``report`` published in the test's database at ``at``."""
    with db.session_scope() as session:
        return publish(session, report, at)
