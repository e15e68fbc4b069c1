"""The contacts CSV export names each number's line type, and the file imports back as it is: into the same
deployment it changes nothing and refuses no row; into another (new numbers) it brings the consent with it.
The export lacked the line type, and its ``consent_status`` column was left out on import (an opted-out
contact came back textable elsewhere)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.helpers import auth_headers, run_jobs

SOURCE = (
    "Téléphone;Prénom;Consentement;Tags\n"
    "06 12 34 56 78;Zoé;oui;vip,winter\n"
    "01 42 72 00 00;Mairie;;\n"
    "06 12 34 56 79;Luc;non;\n"
    "06 12 34 56 77;Ana;;\n"
).encode()


def _import(client: TestClient, body: bytes) -> dict:
    marketer = {**auth_headers("marketer"), "Content-Type": "text/csv"}
    started = client.post("/api/v1/contacts/import", headers=marketer, content=body)
    assert started.status_code == 202, started.text
    run_jobs()
    done: dict = client.get(started.json()["links"]["self"], headers=marketer).json()
    return done


def _export(client: TestClient) -> str:
    exported = client.get("/api/v1/contacts/export", headers=auth_headers("marketer"))
    assert exported.status_code == 200
    return exported.text


def _by_name(text: str) -> dict[str, dict[str, str]]:
    return {row["first_name"]: row for row in csv.DictReader(io.StringIO(text))}


def test_an_exported_file_names_line_types_and_imports_back_cleanly(app_client: TestClient) -> None:
    assert _import(app_client, SOURCE)["created"] == 4
    text = _export(app_client)
    rows = _by_name(text)
    assert {name: row["line_type"] for name, row in rows.items()} == {
        "Zoé": "mobile", "Mairie": "fixed_line", "Luc": "mobile", "Ana": "mobile"}  # fmt: skip

    again = _import(app_client, text.encode())
    columns = {c["column"]: (c["target"], c["note"]) for c in again["columns"]}
    assert columns["consent_status"] == ("consent", "")
    assert columns["line_type"][0] == "ignore" and "from the number" in columns["line_type"][1]
    assert columns["id"][0] == columns["opted_out"][0] == columns["created_at"][0] == "ignore"
    assert (again["status"], again["created"], again["updated"], again["rejected"]) == ("succeeded", 0, 4, 0)
    assert again["errors"] == [] and [w["code"] for w in again["warnings"]] == ["landline"]  # the truth, as before
    assert _by_name(_export(app_client)) == rows  # nothing changed

    # the same people with other numbers, as another deployment would receive them: consent comes along
    moved = text.replace("+3361234567", "+3361234560").replace("+33142720000", "+33142720001")
    elsewhere = _import(app_client, moved.encode())
    assert (elsewhere["created"], elsewhere["rejected"]) == (4, 0)
    fresh = {row["phone"]: row for row in csv.DictReader(io.StringIO(_export(app_client)))}
    assert {row["consent_status"] for row in rows.values()} == {"opted_in", "opted_out", "none"}
    for row in rows.values():
        copy = fresh[row["phone"].replace("+3361234567", "+3361234560").replace("+33142720000", "+33142720001")]
        assert (copy["consent_status"], copy["opted_out"], copy["line_type"], copy["tags"]) == (
            row["consent_status"], row["opted_out"], row["line_type"], row["tags"]), row["first_name"]


def test_a_numbered_phone_heading_is_taken_for_the_number() -> None:
    """"N° Tél." (a spreadsheet's usual heading) fed nothing: the wizard asked for the phone column."""
    from contacts.import_mapping import resolve

    columns = resolve(["N° Tél.", "Prénom ", "Opt-in SMS"], None, {})
    assert [c.target for c in columns] == ["phone", "first_name", "consent"]
    assert resolve(["Nº de téléphone"], None, {})[0].target == "phone"
