"""The in-transaction import (CRM CSV sync): mapping, the row-by-row report, all or nothing, merge/skip, dry runs."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from contacts import attributes, consent, service
from contacts.importer import ImportFailed, ImportOptions, import_file
from contacts.models import ConsentEvent, Contact, ContactTag
from core import db
from core.errors import ValidationFailed
from tests.contacts.helpers import create_contact, phone


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def _count(model: type) -> int:
    with db.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_with_mapping_consent_attributes_and_tags(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="spend", type="number", segmentable=True)
        vip = service.create_list(session, name="VIP")
        list_id = vip.id
    data = _csv(
        "Mobile;Full name;Lang;Opt-in;Spend;Labels\n"
        "06 12 34 56 78;Ana Lima;pt;yes;12.5;a,b\n"
        "+4915112345678;Jo Weber;de;oui;3;b\n"
    )
    mapping = {
        "Mobile": "phone",
        "Full name": "name",
        "Lang": "language",
        "Opt-in": "consent",
        "Spend": "attribute:spend",
        "Labels": "tags",
    }
    options = ImportOptions(
        mapping=mapping, region="FR", require_consent=True, list_ids=(list_id,), tags=("fair",)
    )
    with db.session_scope() as session:
        report = import_file(session, data, options)
    assert (report.rows, report.created, report.error_count, report.committed) == (2, 2, 0, True)
    with db.session_scope() as session:
        ana = service.find_by_phone(session, "+33612345678")
        assert ana is not None
        assert (ana.name, ana.language, ana.country, ana.timezone) == ("Ana Lima", "pt", "FR", "Europe/Paris")
        assert ana.attributes == {"spend": 12.5}
        assert ana.tags == ["a", "b", "fair"]
        assert ana.consent_status == "opted_in"
        assert service.list_ids_of(session, ana.id) == [list_id]
        assert [(e.action, e.source) for e in consent.history(session, ana)] == [("opt_in", "import")]
        assert "row 2" in consent.history(session, ana)[0].proof  # the spreadsheet's row: header = 1
    assert _count(ContactTag) == 5


def test_invalid_rows_are_reported_and_nothing_is_written(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="spend", type="number")
    data = _csv(
        "phone,name,consent,spend\n"
        f"{phone(1)},A,yes,1\n"
        "12,B,yes,2\n"
        f"{phone(1)},C,yes,3\n"
        f"{phone(4)},D,,4\n"
        f"{phone(5)},E,yes,lots\n" + "".join(f"{phone(100 + i)},F,yes,{i}\n" for i in range(2500))
    )
    with pytest.raises(ImportFailed) as caught, db.session_scope() as session:
        import_file(session, data, ImportOptions(require_consent=True))
    report = caught.value.report
    assert [(e.row, e.code) for e in report.errors] == [
        (3, "invalid_phone"),
        (5, "missing_consent"),
        (6, "bad_attribute"),
    ]
    assert [(w.row, w.code) for w in report.warnings] == [(4, "duplicate_in_file")]
    assert report.errors[2].column == "spend"
    assert all("lots" not in e.message and "12" not in e.message for e in report.errors)  # no cell values
    assert report.rows == 2505
    assert _count(Contact) == 0
    assert _count(ConsentEvent) == 0


def test_a_late_error_rolls_back_batches_already_written(runtime: object) -> None:
    rows = "".join(f"{phone(i)}\n" for i in range(2100)) + "+33612\n"
    with pytest.raises(ImportFailed) as caught, db.session_scope() as session:
        import_file(session, _csv("phone\n" + rows), ImportOptions())
    assert [(e.row, e.code) for e in caught.value.report.errors] == [(2102, "invalid_phone")]
    assert _count(Contact) == 0


def test_existing_contacts_merge_skip_or_error(runtime: object) -> None:
    with db.session_scope() as session:
        existing = create_contact(session, 1, name="Old", tags=["old"])
        consent.record_opt_out(session, contact=existing, source="keyword", proof="STOP")
        existing_id = existing.id
    data = f"phone,name,tags,consent\n{phone(1)},New,new,yes\n{phone(2)},Other,,\n"
    with pytest.raises(ImportFailed) as caught, db.session_scope() as session:
        import_file(session, _csv(data), ImportOptions(on_existing="error"))
    assert [e.code for e in caught.value.report.errors] == ["existing_contact"]
    with db.session_scope() as session:
        report = import_file(session, _csv(data), ImportOptions(on_existing="skip"))
        assert (report.created, report.skipped, report.updated) == (1, 1, 0)
        session.rollback()
    with db.session_scope() as session:
        report = import_file(session, _csv(data), ImportOptions(on_existing="merge"))
        assert (report.created, report.updated) == (1, 1)
        assert [w.code for w in report.warnings] == ["opted_out"]  # an import never overrides a STOP
    with db.session_scope() as session:
        merged = service.get(session, existing_id)
        assert (merged.name, merged.tags, merged.opted_out) == ("New", ["new", "old"], True)


def test_dry_run_reports_without_writing(runtime: object) -> None:
    with db.session_scope() as session:
        report = import_file(session, _csv(f"phone\n{phone(1)}\n{phone(2)}\n"), ImportOptions(dry_run=True))
    assert (report.created, report.committed, report.dry_run) == (2, False, True)
    assert _count(Contact) == 0


def test_xlsx_with_numeric_phone_cells(runtime: object) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Phone", "First name"])
    sheet.append([33612345678, "Zoé"])
    sheet.append(["+33612345679", "Luc"])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    with db.session_scope() as session:
        report = import_file(
            session,
            buffer,
            ImportOptions(mapping={"Phone": "phone", "First name": "first_name"}, region="FR"),
            filename="people.xlsx",
        )
    assert report.created == 2
    with db.session_scope() as session:
        found = service.find_by_phone(session, "+33612345678")
        assert found is not None and found.first_name == "Zoé"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name\nA\n", "no column maps to phone"),
        (b'phone,name\n+33612345678,"unterminated\n', "malformed CSV"),
        (b"\xd0\xcf\x11\xe0rest of an old workbook", "old Excel"),
        (b"phone\n", "no data rows"),
    ],
)
def test_malformed_files_fail_clearly(runtime: object, data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message), db.session_scope() as session:
        import_file(session, io.BytesIO(data), ImportOptions())


def test_bad_mapping_is_refused(runtime: object) -> None:
    with pytest.raises(ValidationFailed) as caught, db.session_scope() as session:
        import_file(
            session,
            _csv("tel,x\n+33612345678,1\n"),
            ImportOptions(mapping={"tel": "phone", "x": "attribute:nope", "y": "name"}),
        )
    assert {e["field"] for e in caught.value.errors} == {"mapping.x", "mapping.y"}
