"""`relais intelligence score` says which path it took; the demo's reference history leaves the demo's customers out."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from cli.demo import CLI_ACTOR
from cli.demo_orders import RETAIL_FILE
from cli.demo_scoring import describe, reference_history, score_demo
from cli.main import app
from core import db
from core.models import AuditEntry
from core.settings import Settings
from tests.contacts.helpers import create_contact
from tests.intelligence.scoring_helpers import build_shop

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def test_score_reports_too_little_history_and_is_audited(runtime: Settings) -> None:
    with db.session_scope() as session:
        build_shop(session, customers=6, without_orders=0)
        create_contact(session, 9000)
    answer = CliRunner().invoke(app, ["intelligence", "score", "--at", "2026-06-01T12:00:00+00:00"])
    assert answer.exit_code == 0, answer.output
    assert "Nothing stored: 6 customers with orders; at least 50" in answer.output
    assert "Chance to respond not stored: 0 campaign texts" in answer.output
    with db.session_scope() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "intelligence.score").order_by(AuditEntry.id)
        ).all()
        assert [entry.diff for entry in entries] == [{"path": "too_little_history", "contacts": 0},
                                                     {"kind": "response", "scored": False, "contacts": 0}]


def test_the_reference_history_leaves_the_demo_customers_out_moves_dates_and_prices_in_euros(tmp_path: Path) -> None:
    path = tmp_path / RETAIL_FILE
    path.parent.mkdir(parents=True)
    rows = [f"{k}00,A,Item,1,2011-08-{1 + k % 28:02d} 10:00:00,2.0,{100 + k}.0,United Kingdom" for k in range(40)]
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(HEADER + "\n".join(rows) + "\n")
    sample = reference_history(path, {"100", "101"}, date(2026, 11, 29))
    assert {"100", "101"}.isdisjoint(sample["customer_id"]) and sample["customer_id"].nunique() == 38
    last = sample["ordered_at"].max().date()  # whole weeks: the week before today, the same weekday
    assert date(2026, 11, 22) <= last < date(2026, 11, 29) and last.weekday() == date(2011, 8, 28).weekday()
    assert set(sample["unit_price"]) == {2.3}  # £2.00 in the demo shop's euros, as its own orders


def test_the_demo_says_why_it_skips_scoring(runtime: Settings, tmp_path: Path) -> None:
    outcome = score_demo(CLI_ACTOR, data_dir=tmp_path)
    assert isinstance(outcome, str) and "not found" in outcome
    assert describe(outcome).startswith("Predictions skipped:")
