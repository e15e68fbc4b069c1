"""Import over HTTP (text/csv body, multipart, XLSX), the 422 report, CSV export by segment."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.helpers import auth_headers


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_body_import_dry_run_report_and_export(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    body = "Tel,Prénom,Langue\n06 12 34 56 78,Zoé,fr\n+4915112345678,Jan,de\n"
    mapping = json.dumps({"Tel": "phone", "Prénom": "first_name", "Langue": "language"})
    headers = {**marketer, "Content-Type": "text/csv"}
    dry = app_client.post(
        "/api/v1/contacts/import",
        headers=headers,
        content=body.encode(),
        params={"mapping": mapping, "dry_run": "true"},
    )
    assert dry.status_code == 200, dry.text
    assert (dry.json()["created"], dry.json()["committed"]) == (2, False)
    assert app_client.get("/api/v1/contacts", headers=marketer).json()["items"] == []

    done = app_client.post(
        "/api/v1/contacts/import",
        headers=headers,
        content=body.encode(),
        params={"mapping": mapping, "tag": "fair"},
    )
    assert done.status_code == 200 and done.json()["committed"] is True

    segment = app_client.post(
        "/api/v1/segments",
        headers=marketer,
        json={"name": "French", "rules": {"all": [{"field": "language", "op": "eq", "value": "fr"}]}},
    ).json()
    exported = app_client.get(
        "/api/v1/contacts/export", headers=marketer, params={"segment_id": segment["id"]}
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = _rows(exported.text)
    assert [(r["phone"], r["first_name"], r["tags"]) for r in rows] == [("+33612345678", "Zoé", "fair")]
    app_client.post(
        "/api/v1/contacts", headers=marketer, json={"phone": "+33612345670", "name": "=HYPERLINK(1)"}
    )
    everyone = _rows(app_client.get("/api/v1/contacts/export", headers=marketer).text)
    assert len(everyone) == 3
    assert everyone[-1]["name"] == "'=HYPERLINK(1)"  # no formula injection into spreadsheets


def test_invalid_rows_answer_422_with_the_report_and_import_nothing(app_client: TestClient) -> None:
    marketer = {**auth_headers("marketer"), "Content-Type": "text/csv"}
    body = "phone,consent\n+33612345678,yes\nnot a number,yes\n+33612345678,yes\n+33612345679,\n"
    response = app_client.post(
        "/api/v1/contacts/import", headers=marketer, content=body.encode(), params={"require_consent": "true"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert "3 of 4 rows are invalid" in problem["detail"]
    assert [(e["row"], e["code"]) for e in problem["errors"]] == [
        (2, "invalid_phone"),
        (3, "duplicate_in_file"),
        (4, "missing_consent"),
    ]
    assert app_client.get("/api/v1/contacts", headers=marketer).json()["items"] == []
    malformed = app_client.post(
        "/api/v1/contacts/import", headers=marketer, content=b'phone,name\n+33612345678,"open\n'
    )
    assert malformed.status_code == 422 and "malformed CSV" in malformed.json()["detail"]
    wrong_type = app_client.post(
        "/api/v1/contacts/import", headers={**marketer, "Content-Type": "application/json"}, content=b"{}"
    )
    assert wrong_type.status_code == 422


def test_multipart_xlsx_with_mapping_field(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Mobile", "Name"])
    sheet.append(["+33612345678", "Ana"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = app_client.post(
        "/api/v1/contacts/import",
        headers=marketer,
        files={"file": ("people.xlsx", buffer.getvalue(), "application/octet-stream")},
        data={"mapping": json.dumps({"Mobile": "phone", "Name": "name"})},
    )
    assert response.status_code == 200, response.text
    assert response.json()["mapping"] == {"Mobile": "phone", "Name": "name"}
    assert app_client.get("/api/v1/contacts", headers=marketer).json()["items"][0]["name"] == "Ana"
    agent = auth_headers("agent")
    assert (
        app_client.post(
            "/api/v1/contacts/import", headers=agent, files={"file": ("x.csv", b"phone\n", "text/csv")}
        ).status_code
        == 403
    )
