"""Imports over HTTP: 202 and a job to poll, partial import with rejected.csv, strict, preview,
cancel, limits (413/422), roles; CSV export by segment."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from api.app import create_app
from core.settings import Settings, get_settings
from tests.helpers import auth_headers, run_jobs


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


FRENCH = (
    "Téléphone;Prénom;Nom;Email\n"
    "06 12 34 56 78;Zoé;Lefèvre;zoe@example.fr\n"
    "01 42 72 00 00;Benoît;Mairie;\n"
    "+33 6 12;Luc;=HYPERLINK(1);\n"
).encode("cp1252")


def test_import_answers_202_and_the_job_reports_progress_warnings_and_rejected_rows(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    started = app_client.post(
        "/api/v1/contacts/import", headers={**marketer, "Content-Type": "text/csv"}, content=FRENCH
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/v1/contacts/imports/{job['id']}"
    assert (job["status"], job["encoding"], job["delimiter"], job["rows_total"]) == ("pending", "cp1252", ";", 3)
    assert [(c["column"], c["target"]) for c in job["columns"]] == [
        ("Téléphone", "phone"),
        ("Prénom", "first_name"),
        ("Nom", "name"),
        ("Email", "ignore"),
    ]
    run_jobs()
    done = app_client.get(job["links"]["self"], headers=marketer).json()
    assert (done["status"], done["percent"], done["created"], done["rejected"]) == ("succeeded", 100.0, 2, 1)
    assert [(w["row"], w["code"]) for w in done["warnings"]] == [(3, "landline")]
    assert [(e["row"], e["field"], e["code"]) for e in done["errors"]] == [(4, "Téléphone", "invalid_phone")]
    assert any("no consent" in n for n in done["notices"])  # the consent policy's warning
    rejected = app_client.get(done["links"]["rejected_csv"], headers=marketer)
    assert rejected.status_code == 200 and rejected.headers["content-type"].startswith("text/csv")
    assert _rows(rejected.text) == [
        {
            "row": "4",
            "reason": "Téléphone: the number is too short",  # "+33 6 12": read with its country code, no hint
            "Téléphone": "+33 6 12",  # a signed number stays as typed, to be fixed and imported again
            "Prénom": "Luc",
            "Nom": "'=HYPERLINK(1)",  # no formula injection into spreadsheets
            "Email": "",
        }
    ]
    assert app_client.post(done["links"]["cancel"], headers=marketer).status_code == 409
    listed = app_client.get("/api/v1/contacts/imports", headers=marketer).json()
    assert [i["id"] for i in listed] == [job["id"]]
    audit = app_client.get("/api/v1/audit", headers=auth_headers("admin"), params={"action": "contacts.import.start"})
    assert audit.status_code == 200 and audit.json()["items"][0]["target_id"] == str(job["id"])


def test_strict_dry_run_and_explicit_mapping(app_client: TestClient) -> None:
    marketer = {**auth_headers("marketer"), "Content-Type": "text/csv"}
    body = "Tel,Prénom,Langue\n06 12 34 56 78,Zoé,fr\nnope,Jan,de\n".encode()
    strict = app_client.post("/api/v1/contacts/import", headers=marketer, content=body, params={"strict": "true"})
    assert strict.status_code == 202 and strict.json()["phase"] == "validating"
    run_jobs()
    failed = app_client.get(strict.json()["links"]["self"], headers=marketer).json()
    assert (failed["status"], failed["rejected"]) == ("failed", 1)
    assert app_client.get("/api/v1/contacts", headers=marketer).json()["items"] == []

    mapping = json.dumps({"Langue": "ignore"})
    done = app_client.post(
        "/api/v1/contacts/import", headers=marketer, content=body, params={"mapping": mapping, "tag": "fair"}
    )
    run_jobs()
    result = app_client.get(done.json()["links"]["self"], headers=marketer).json()
    assert (result["status"], result["created"], result["rejected"]) == ("succeeded", 1, 1)
    contact = app_client.get("/api/v1/contacts", headers=marketer).json()["items"][0]
    assert (contact["first_name"], contact["language"], contact["tags"]) == ("Zoé", None, ["fair"])
    bad_mapping = app_client.post(
        "/api/v1/contacts/import", headers=marketer, content=body, params={"mapping": json.dumps({"Nope": "phone"})}
    )
    assert bad_mapping.status_code == 422 and bad_mapping.json()["errors"][0]["field"] == "mapping.Nope"
    no_phone = app_client.post("/api/v1/contacts/import", headers=marketer, content=b"Nom;Ville\nA;B\n")
    assert no_phone.status_code == 422 and "no column maps to phone" in no_phone.json()["detail"]


def test_preview_shows_the_mapping_and_validates_the_first_rows(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    response = app_client.post(
        "/api/v1/contacts/imports/preview",
        headers=marketer,
        files={"file": ("clients.csv", FRENCH, "text/csv")},
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["format"], found["encoding"], found["delimiter"], found["ready"]) == ("csv", "cp1252", ";", True)
    assert [r["status"] for r in found["rows"]] == ["ok", "warning", "rejected"]
    assert found["rows"][0]["values"] == {"phone": "06 12 34 56 78", "first_name": "Zoé", "name": "Lefèvre"}
    assert found["rows"][1]["problems"][0]["code"] == "landline"
    assert app_client.get("/api/v1/contacts/imports", headers=marketer).json() == []  # nothing stored

    unmapped = app_client.post(
        "/api/v1/contacts/imports/preview",
        headers=marketer,
        files={"file": ("x.csv", b"Numero client;Nom\n0612345678;A\n", "text/csv")},
    ).json()
    assert unmapped["ready"] is False and "no column maps to phone" in unmapped["problem"]
    fixed = app_client.post(
        "/api/v1/contacts/imports/preview",
        headers=marketer,
        files={"file": ("x.csv", b"Numero client;Nom\n0612345678;A\n", "text/csv")},
        data={"mapping": json.dumps({"Numero client": "phone"})},
    ).json()
    assert fixed["ready"] is True and fixed["rows"][0]["status"] == "ok"


def test_multipart_xlsx_and_roles(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    data = _xlsx([["Mobile", "Nom"], ["+33612345678", "Ana"]])
    response = app_client.post(
        "/api/v1/contacts/import", headers=marketer, files={"file": ("people.xlsx", data, "application/octet-stream")}
    )
    assert response.status_code == 202, response.text
    run_jobs()
    assert app_client.get("/api/v1/contacts", headers=marketer).json()["items"][0]["name"] == "Ana"
    agent = auth_headers("agent")
    for path in ("/api/v1/contacts/import", "/api/v1/contacts/imports/preview"):
        assert (
            app_client.post(path, headers=agent, files={"file": ("x.csv", b"phone\n", "text/csv")}).status_code == 403
        )
    assert app_client.get(f"/api/v1/contacts/imports/{response.json()['id']}", headers=agent).status_code == 403
    assert app_client.get("/api/v1/contacts/imports/999", headers=marketer).status_code == 404


def test_oversized_files_and_cells_are_refused_before_any_import(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_IMPORT_MAX_BYTES", "8192")
    monkeypatch.setenv("RELAIS_IMPORT_MAX_CELL_CHARS", "50")
    get_settings.cache_clear()  # the worker reads the same settings as the API
    with TestClient(create_app(get_settings())) as client:
        marketer = auth_headers("marketer")
        big = b"phone\n" + b"+33612345678\n" * 800
        too_big = client.post("/api/v1/contacts/import", headers={**marketer, "Content-Type": "text/csv"}, content=big)
        assert too_big.status_code == 413
        assert too_big.headers["content-type"].startswith("application/problem+json")
        cell = _xlsx([["Phone", "Note"], ["+33612345678", "x" * 51]])
        long_cell = client.post(
            "/api/v1/contacts/import", headers=marketer, files={"file": ("big.xlsx", cell, "application/octet-stream")}
        )
        assert long_cell.status_code == 422 and "longer than 50 characters" in long_cell.json()["detail"]
        wrong_type = client.post(
            "/api/v1/contacts/import", headers={**marketer, "Content-Type": "application/json"}, content=b"{}"
        )
        assert wrong_type.status_code == 422
        # a CSV cell over the limit rejects that row only
        ok = client.post(
            "/api/v1/contacts/import",
            headers={**marketer, "Content-Type": "text/csv"},
            content=f"phone,note\n+33612345678,{'y' * 51}\n+33612345679,short\n".encode(),
        )
        run_jobs()
        job = client.get(ok.json()["links"]["self"], headers=marketer).json()
        assert (job["created"], job["rejected"], job["errors"][0]["code"]) == (1, 1, "cell_too_long")


def test_export_by_segment(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    app_client.post(
        "/api/v1/contacts", headers=marketer, json={"phone": "+33612345678", "first_name": "Zoé", "language": "fr"}
    )
    segment = app_client.post(
        "/api/v1/segments",
        headers=marketer,
        json={"name": "French", "rules": {"all": [{"field": "language", "op": "eq", "value": "fr"}]}},
    ).json()
    exported = app_client.get("/api/v1/contacts/export", headers=marketer, params={"segment_id": segment["id"]})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert [(r["phone"], r["first_name"]) for r in _rows(exported.text)] == [("+33612345678", "Zoé")]
    app_client.post("/api/v1/contacts", headers=marketer, json={"phone": "+33612345670", "name": "=HYPERLINK(1)"})
    everyone = _rows(app_client.get("/api/v1/contacts/export", headers=marketer).text)
    assert len(everyone) == 2
    assert everyone[-1]["name"] == "'=HYPERLINK(1)"


def test_the_countrys_language_is_given_over_the_api_only_when_asked(app_client: TestClient) -> None:
    """``language_from_country`` reaches the import and its preview: contacts of a file without a language
    column got none, and a "language = fr" segment left them out."""
    marketer = auth_headers("marketer")
    body = "Téléphone;Prénom\n06 12 34 56 78;Zoé\n+32 470 12 34 56;Lotte\n".encode("cp1252")
    shown = app_client.post("/api/v1/contacts/imports/preview", headers=marketer,
                            params={"language_from_country": "true"}, files={"file": ("c.csv", body, "text/csv")})
    assert shown.status_code == 200, shown.text
    assert shown.json()["language_notice"].startswith("2 of the first 2 rows leave their contacts without a language")
    started = app_client.post("/api/v1/contacts/import", params={"language_from_country": "true"},
                              headers={**marketer, "Content-Type": "text/csv"}, content=body)
    assert started.status_code == 202, started.text
    run_jobs()
    languages = {c["first_name"]: c["language"] for c in
                 app_client.get("/api/v1/contacts", headers=marketer).json()["items"]}
    assert languages == {"Zoé": "fr", "Lotte": None}  # Belgium: several languages, none guessed
