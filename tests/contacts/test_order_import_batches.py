"""REST and CLI order imports commit batch by batch, as the console's job does: a failure far down the file keeps
the orders before it, says so, and importing the fixed file again adds only the rest."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from contacts import attributes as attrs
from contacts.models import Order
from core import db
from core.models import AuditEntry
from core.settings import Settings
from tests.contacts.helpers import create_contact
from tests.helpers import auth_headers

HEADER = "Commande;Date;Client;Article;Qté;Prix\n"
#: 1,200 orders of one line; line 1,102 of the file (row 1,101's order) is malformed: it is read after two batches
#: of 500 orders were recorded
GOOD = [f"F-{n};05/01/2024 10:00;C1;Bougie;1;12,50" for n in range(1, 1201)]
BROKEN = [*GOOD[:1099], 'F-1100;05/01/2024 10:00;C1;"Bougie"x;1;12,50', *GOOD[1100:]]


def _file(lines: list[str]) -> bytes:
    return (HEADER + "\n".join(lines) + "\n").encode()


def _customer() -> None:
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        create_contact(session, 1, attributes={"customer_id": "C1"})


def _orders() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count(Order.id))) or 0


def _audited() -> list[dict[str, object]]:
    """The ``orders.import`` audit rows' diffs, oldest first."""
    with db.session_scope() as session:
        query = select(AuditEntry).where(AuditEntry.action == "orders.import").order_by(AuditEntry.id)
        return [dict(entry.diff) for entry in session.scalars(query)]


def test_a_rest_import_failing_midway_keeps_its_committed_batches_and_a_rerun_completes_it(
    app_client: TestClient,
) -> None:
    _customer()
    headers = {**auth_headers("marketer"), "Content-Type": "text/csv"}
    url = "/api/v1/orders/import?currency=EUR&day_first=true"
    failed = app_client.post(url, headers=headers, content=_file(BROKEN))
    assert failed.status_code == 422, failed.text
    detail = failed.json()["detail"]
    assert "malformed CSV at line 1102" in detail and "the first 1,000 rows stay recorded" in detail
    assert _orders() == 1000  # in one transaction, all 1,000 were lost with the line at the end
    # the 1,000 recorded orders are a person's change: audited although the import stopped (it wrote no row)
    [partial] = _audited()
    assert partial["partial"] is True and partial["orders_created"] == 1000 and "line 1102" in str(partial["stopped"])
    done = app_client.post(url, headers=headers, content=_file(GOOD))
    assert done.status_code == 200, done.text
    assert (done.json()["orders_created"], done.json()["orders_existing"]) == (200, 1000)
    assert _orders() == 1200
    again = app_client.post(url, headers=headers, content=_file(GOOD)).json()
    assert (again["orders_created"], again["orders_existing"]) == (0, 1200)


def test_a_cli_import_failing_midway_keeps_its_committed_batches_and_a_rerun_completes_it(
    runtime: Settings, tmp_path: Path
) -> None:
    _customer()
    source = tmp_path / "commandes.csv"
    source.write_bytes(_file(BROKEN))
    runner = CliRunner()
    failed = runner.invoke(app, ["orders", "import", str(source), "--currency", "EUR", "--day-first"])
    assert failed.exit_code == 1
    assert "the first 1,000 rows stay recorded" in " ".join(failed.output.split()), failed.output
    assert _orders() == 1000
    assert [(a.get("partial"), a["orders_created"]) for a in _audited()] == [(True, 1000)]
    source.write_bytes(_file(GOOD))
    done = runner.invoke(app, ["orders", "import", str(source), "--currency", "EUR", "--day-first"])
    assert done.exit_code == 0, done.output
    assert "200 orders created" in done.output and "1000 already known" in done.output
    assert _orders() == 1200
    assert [(a.get("partial"), a["orders_created"]) for a in _audited()] == [(True, 1000), (None, 200)]
