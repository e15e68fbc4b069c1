"""Evaluation reports kept in the database, where every API host's QA page and API read them.

``relais eval run`` still writes ``report.json`` and ``report.html`` into a folder (the artefact a
CI job keeps); it also publishes them here. They were read from ``<data_dir>/reports`` on the API
host's own disk: a run on another host (a worker, CI, a laptop pointed at the deployment's
database) never reached the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class EvalReport(Base):
    """One run of one suite: its headline figures apart (the listing and trends read only these), the whole
    ``report.json`` and its HTML page."""

    __tablename__ = "eval_reports"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # "<suite>/<UTC stamp>"
    suite: Mapped[str] = mapped_column(String(60), index=True)
    created_at: Mapped[str] = mapped_column(String(40))  # the report's own ISO time, as report.json has it
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text)  # report.json
    html: Mapped[str] = mapped_column(Text)  # report.html
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
