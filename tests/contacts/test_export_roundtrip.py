"""The contacts CSV export names each number's line type, and the file imports back as it is: into the same
deployment it changes nothing and refuses no row; into another (new numbers) it brings the consent with it.
The export lacked the line type, and its ``consent_status`` column was left out on import (an opted-out
contact came back textable elsewhere). A "no" in a consent column withholds marketing only (consent_status
``opted_out``, ``opted_out`` false); a STOP comes from a column that says so (``opted_out``, "Désinscrit"): the
"no" used to record a STOP, so no text at all, replies included, reached someone who only declined marketing."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.helpers import auth_headers, run_jobs

SOURCE = (
    "Téléphone;Prénom;Consentement;Tags;Désinscrit\n"
    "06 12 34 56 78;Zoé;oui;vip,winter;\n"
    "01 42 72 00 00;Mairie;;;\n"
    "06 12 34 56 79;Luc;non;;non\n"
    "06 12 34 56 77;Ana;;;\n"
    "06 12 34 56 76;Max;;;oui\n"
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
    assert _import(app_client, SOURCE)["created"] == 5
    text = _export(app_client)
    rows = _by_name(text)
    assert {name: row["line_type"] for name, row in rows.items()} == {
        "Zoé": "mobile", "Mairie": "fixed_line", "Luc": "mobile", "Ana": "mobile", "Max": "mobile"}  # fmt: skip
    assert {name: (row["consent_status"], row["opted_out"]) for name, row in rows.items()} == {
        "Zoé": ("opted_in", "false"), "Mairie": ("none", "false"), "Ana": ("none", "false"),
        "Luc": ("opted_out", "false"),  # no marketing, but service texts and replies still reach him
        "Max": ("opted_out", "true"),  # the STOP the file says
    }  # fmt: skip

    again = _import(app_client, text.encode())
    columns = {c["column"]: (c["target"], c["note"]) for c in again["columns"]}
    assert columns["consent_status"] == ("consent", "")
    assert columns["line_type"][0] == "ignore" and "from the number" in columns["line_type"][1]
    assert columns["opted_out"] == ("opted_out", "")
    assert columns["id"][0] == columns["created_at"][0] == "ignore"
    assert (again["status"], again["created"], again["updated"], again["unchanged"], again["rejected"]) == (
        "succeeded", 0, 0, 5, 0)  # it said "5 updated" of contacts it left as they were
    assert again["errors"] == [] and [w["code"] for w in again["warnings"]] == ["landline"]  # the truth, as before
    assert _by_name(_export(app_client)) == rows  # nothing changed

    # the same people with other numbers, as another deployment would receive them: consent comes along
    moved = text.replace("+3361234567", "+3361234560").replace("+33142720000", "+33142720001")
    elsewhere = _import(app_client, moved.encode())
    assert (elsewhere["created"], elsewhere["rejected"]) == (5, 0)
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
