"""Uploads previewed by a worker (the console's import pages): the request only stores the file; the preview is a
job whose result, stored encrypted on the draft, any host reads; a preview made for choices changed since is
dropped; "Import" runs on the same stored file; a file that cannot be read says why; stale drafts go; a change of
a column's field previews from the file's first rows kept with the draft, not the file."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import delete, func, select

from contacts import file_head, import_drafts, import_jobs, import_preview, order_jobs
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions
from contacts.models import Contact, ContactImport, ContactImportChunk
from contacts.order_import import OrderImportOptions
from core import db
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict
from core.settings import Settings
from tests.helpers import run_jobs

MIA = Actor(type="user", id="7")
CONTACTS = "Téléphone;Prénom\n06 12 34 56 01;Quokkaline\n06 12 34 56 02;Luc\n".encode("cp1252")


def _save(data: bytes, *, kind: str = "contacts", options: dict[str, object] | None = None) -> int:
    with db.session_scope() as session:
        draft = import_drafts.save(session, io.BytesIO(data), kind=kind, filename="clients.csv",
                                   options=options or ImportOptions(region="FR").to_json(), actor=MIA)  # fmt: skip
        return draft.id


def _shown(draft_id: int, kind: str = "contacts") -> dict[str, object]:
    with db.session_scope() as session:
        return import_drafts.shown(import_drafts.get(session, draft_id, kind=kind))


def test_the_upload_is_stored_then_a_worker_previews_it_encrypted(runtime_any_db: Settings) -> None:
    draft_id = _save(CONTACTS)
    assert _shown(draft_id)["preview"] is None  # nothing read in the request
    run_jobs()
    preview = _shown(draft_id)["preview"]
    assert isinstance(preview, dict) and preview["encoding"] == "cp1252" and preview["ready"]
    assert [r["status"] for r in preview["rows"]] == ["ok", "ok"]
    with db.session_scope() as session:
        stored = session.get_one(ContactImport, draft_id)
        assert "Quokkaline" not in str(stored.summary)  # the preview's cells are encrypted at rest
        assert stored.options["mapping"] == {"Téléphone": "phone", "Prénom": "first_name"}  # as the page shows them
        assert import_jobs.recent(session) == []  # a draft is not an import yet
    assert import_drafts.run(draft_id) == "previewed"  # a retried job: the same rows again
    again = _shown(draft_id)["preview"]
    assert isinstance(again, dict) and again["rows"] == preview["rows"]


def test_a_preview_made_for_changed_choices_is_dropped_and_import_waits_for_the_right_one(
    runtime_any_db: Settings,
) -> None:
    draft_id = _save(CONTACTS)
    run_jobs()
    chosen = ImportOptions(mapping={"Téléphone": "phone", "Prénom": "ignore"}, region="FR").to_json()
    with db.session_scope() as session:
        draft = import_drafts.get(session, draft_id, kind="contacts")
        first = dict(draft.options)
        import_drafts.choose(session, draft, chosen)
        with pytest.raises(Conflict):  # its preview is not there yet
            import_drafts.launch(session, draft, options=chosen, actor=MIA)
    shown = _shown(draft_id)
    assert shown["preview"] is None and shown["last"] is not None  # the last one stays on the page meanwhile
    with db.session_scope() as session:  # a second tab goes back to the first choice: the queued job is outdated
        draft = import_drafts.get(session, draft_id, kind="contacts")
        draft.options = first
        draft.summary = {**(draft.summary or {}), "options": chosen}
    assert import_drafts.run(draft_id) == "previewed"
    with db.session_scope() as session:
        draft = import_drafts.get(session, draft_id, kind="contacts")
        draft.options = chosen
    run_jobs()
    with db.session_scope() as session:
        draft = import_drafts.get(session, draft_id, kind="contacts")
        job = import_drafts.launch(session, draft, options=dict(draft.options), actor=MIA)
        assert (job.id, job.status) == (draft_id, "pending")  # the same row and stored upload
    run_jobs()
    with db.session_scope() as session:
        assert import_jobs.get(session, draft_id).status == "succeeded"
        names = sorted(n or "" for n in session.scalars(select(Contact.first_name)))
    assert names == ["", ""]  # "Prénom" was chosen "Do not import"


def test_a_file_that_cannot_be_read_says_why_and_an_order_draft_previews_its_dry_run(
    runtime_any_db: Settings,
) -> None:
    empty = _save(b"")
    pdf = _save(b"%PDF-1.4\x00\x00binary")
    run_jobs()
    assert "empty" in str(_shown(empty)["error"]) and _shown(empty)["preview"] is None
    assert "this is not a spreadsheet" in str(_shown(pdf)["error"])
    orders = b"InvoiceNo;InvoiceDate;CustomerID;Quantity;UnitPrice\nF-1;2024-01-05 10:00;C1;2;12,50\n"
    draft_id = _save(orders, kind=order_jobs.KIND, options=order_jobs.options_json(OrderImportOptions(currency="EUR")))
    run_jobs()
    preview = _shown(draft_id, order_jobs.KIND)["preview"]
    assert isinstance(preview, dict) and preview["ready"] and preview["report"]["rejected_by_code"] == {
        "unknown_customer": 1}  # fmt: skip


def test_drafts_never_started_are_deleted_after_a_day(runtime_any_db: Settings) -> None:
    draft_id = _save(CONTACTS)
    with db.session_scope() as session:
        assert import_jobs.purge_finished(session, now=utcnow() + timedelta(hours=23)) == 0
        assert import_jobs.purge_finished(session, now=utcnow() + timedelta(days=1, minutes=1)) == 1
        assert session.scalar(select(func.count()).select_from(ContactImport).where(ContactImport.id == draft_id)) == 0


def _workbook(rows: int) -> bytes:
    """A summary sheet, then the list under a title, a consent merged over two rows, a hidden column."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Résumé"
    summary.append(["Clients", rows])
    sheet = book.create_sheet("Clients")
    sheet.append(["Clients – export du 12/11/2026"])
    sheet.append(["Téléphone", "Prénom", "Ville", "Consentement", "Code interne"])
    for n in range(rows):
        sheet.append([33612345000 + n, f"Quokka{n}", "Lyon", "oui" if n % 3 else None, f"X{n}"])
    sheet.merge_cells("D3:D4")
    sheet.column_dimensions["E"].hidden = True
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _choose(draft_id: int, mapping: dict[str, str]) -> dict[str, Any]:
    options = ImportOptions(mapping=mapping, region="FR", source_name="clients.xlsx").to_json()
    with db.session_scope() as session:
        import_drafts.choose(session, import_drafts.get(session, draft_id, kind="contacts"), options)
    run_jobs()
    return options


def _as_read(data: bytes, options: dict[str, Any], *, filename: str = "clients.xlsx") -> dict[str, Any]:
    with db.session_scope() as session:
        return import_preview.preview(session, io.BytesIO(data), filename=filename,
                                      options=ImportOptions.from_json(options), limits=FileLimits())  # fmt: skip


def test_a_change_of_column_previews_from_the_first_rows_kept_not_from_the_file(runtime_any_db: Settings) -> None:
    """Each change of a column's field read the whole upload again: 78 s for a 16 MB workbook of 400,000 rows. The
    first preview keeps the file's first rows (encrypted, on the draft); the next ones read them only."""
    data = _workbook(300)
    draft_id = _save(data, options=ImportOptions(region="FR", source_name="clients.xlsx").to_json())
    run_jobs()
    with db.session_scope() as session:
        draft = session.get_one(ContactImport, draft_id)
        assert draft.summary and "Quokka" not in str(draft.summary)  # the first rows kept are encrypted too
        session.execute(delete(ContactImportChunk).where(ContactImportChunk.import_id == draft_id))  # file gone
    for mapping in ({"Téléphone": "phone", "Prénom": "ignore", "Ville": "ignore", "Consentement": "consent",
                     "Code interne": "ignore"},
                    {"Téléphone": "phone", "Prénom": "name", "Ville": "tags", "Consentement": "ignore",
                     "Code interne": "ignore"}):  # fmt: skip
        options = _choose(draft_id, mapping)
        shown = _shown(draft_id)
        assert not shown["error"] and isinstance(shown["preview"], dict)  # before: "the file is empty"
        assert shown["preview"] == _as_read(data, options)  # what reading the whole file shows
    assert shown["preview"]["rows"][1]["values"] == {"phone": "33612345001", "name": "Quokka1", "tags": "Lyon"}
    assert shown["preview"]["sheet"] == "Clients" and shown["preview"]["header_row"] == 2


def test_a_file_whose_preview_needs_more_than_its_first_rows_is_read_again(runtime_any_db: Settings) -> None:
    data = ("Téléphone;Prénom\n" + "\n" * (file_head.HEAD_ROWS + 5) + "0612345601;Quokkaline\n").encode()
    draft_id = _save(data)
    run_jobs()
    first = _shown(draft_id)["preview"]
    assert isinstance(first, dict) and [r["row"] for r in first["rows"]] == [file_head.HEAD_ROWS + 7]
    options = _choose(draft_id, {"Téléphone": "phone", "Prénom": "name"})
    again = _shown(draft_id)["preview"]
    assert isinstance(again, dict) and again["rows"][0]["values"] == {"phone": "0612345601", "name": "Quokkaline"}
    assert again == _as_read(data, options, filename="clients.csv")
