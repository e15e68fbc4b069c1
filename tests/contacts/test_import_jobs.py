"""Imports as background jobs: partial by default, strict on request, rejected rows with spreadsheet
row numbers, warnings, progress, cancel, resume after a crash, and writes that go on meanwhile."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from contacts import attributes, import_jobs, import_runner, service
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions
from contacts.models import Contact, ContactImport, ContactImportChunk, ContactImportNumber, ContactImportProblem
from core import db
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict
from core.queue import RetryPolicy
from core.settings import Settings
from tests.contacts.helpers import phone
from tests.helpers import run_jobs

PERSON = Actor(type="user", id="7", name="marketer@example.com")


def _start(
    data: bytes, options: ImportOptions | None = None, *, filename: str = "people.csv", enqueue: bool = True
) -> int:
    with db.session_scope() as session:
        job = import_jobs.start(
            session,
            io.BytesIO(data),
            filename=filename,
            options=options or ImportOptions(region="FR"),
            limits=FileLimits(),
            actor=PERSON,
            enqueue=enqueue,
        )
        return job.id


def _job(import_id: int) -> ContactImport:
    with db.session_scope() as session:
        return import_jobs.get(session, import_id)


def _contacts() -> int:
    with db.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


def _rejected(import_id: int) -> list[list[str]]:
    with db.session_scope() as session:
        return list(import_jobs.rejected_rows(session, import_jobs.get(session, import_id)))


def _warnings(import_id: int) -> list[tuple[int, str]]:
    with db.session_scope() as session:
        return [(p.row, p.code) for p in import_jobs.problems(session, import_id, errors=False)]


def test_french_windows_1252_file_imports_through_the_worker(runtime_any_db: Settings) -> None:
    data = (
        "Téléphone;Prénom;Nom;Email;Langue\n"
        "06 12 34 56 78;Zoé;Lefèvre;zoe@example.fr;Français\n"
        "01 42 72 00 00;Benoît;Hôtel de Ville;bv@example.fr;fr\n"
        "pas un numéro;Anaïs;Roux;;fr\n"
        "06 12 34 56 78;Zoé;Doublon;;fr\n"
    ).encode("cp1252")
    import_id = _start(data)
    assert _job(import_id).status == "pending"
    with db.session_scope() as session:  # the stored upload is encrypted like other personal data
        stored = b"".join(session.scalars(select(ContactImportChunk.data)))
    assert stored and b"06 12 34 56 78" not in stored and "Lefèvre".encode("cp1252") not in stored
    run_jobs()
    job = _job(import_id)
    assert (job.status, job.encoding, job.delimiter) == ("succeeded", "cp1252", ";")
    assert (job.created, job.rejected, job.skipped, job.rows_done) == (2, 1, 1, 4)
    assert _warnings(import_id) == [(3, "landline"), (5, "duplicate_in_file")]
    assert _rejected(import_id) == [
        ["row", "reason", "Téléphone", "Prénom", "Nom", "Email", "Langue"],
        ["4", "Téléphone: the number is not a phone number", "pas un numéro", "Anaïs", "Roux", "", "fr"],
    ]
    with db.session_scope() as session:
        zoe = service.find_by_phone(session, "+33612345678")
        assert zoe is not None
        assert (zoe.first_name, zoe.name, zoe.language) == ("Zoé", "Lefèvre", "fr")
        # the upload and the numbers seen are gone once the import ends; rejected rows stay (encrypted)
        assert session.scalar(select(func.count()).select_from(ContactImportChunk)) == 0
        assert session.scalar(select(func.count()).select_from(ContactImportNumber)) == 0
    columns = {c["column"]: c["target"] for c in job.mapping["columns"]}
    assert columns == {
        "Téléphone": "phone",
        "Prénom": "first_name",
        "Nom": "name",
        "Email": "ignore",
        "Langue": "language",
    }


def test_one_bad_row_in_1000_rejects_that_row_with_the_spreadsheet_row_number(runtime: Settings) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Portable", "Prénom"])
    for i in range(999):
        sheet.append([phone(i), f"P{i}"])
    sheet.append(["06 12", "Bad"])  # the 1,000th data row
    buffer = io.BytesIO()
    book.save(buffer)
    import_id = _start(buffer.getvalue(), filename="clients.xlsx")
    run_jobs()
    job = _job(import_id)
    assert (job.status, job.created, job.rejected) == ("succeeded", 999, 1)
    assert _contacts() == 999
    rejected = _rejected(import_id)
    assert len(rejected) == 2 and rejected[1][0] == "1001"
    # the row number is the one the spreadsheet shows for the bad row
    sheet = load_workbook(io.BytesIO(buffer.getvalue()), read_only=True).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows(min_row=1001, max_row=1001))] == ["06 12", "Bad"]
    assert rejected[1][2:] == ["06 12", "Bad"]


def test_strict_import_is_all_or_nothing(runtime_any_db: Settings) -> None:
    rows = "".join(f"{phone(i)},ok\n" for i in range(1200))
    failing = _start(f"phone,name\n{rows}+33612,bad\n".encode(), ImportOptions(region="FR", strict=True))
    run_jobs()
    job = _job(failing)
    assert (job.status, job.phase, job.rejected) == ("failed", "validating", 1)
    assert "nothing was imported" in job.error
    assert _contacts() == 0
    assert [r[0] for r in _rejected(failing)[1:]] == ["1202"]

    passing = _start(f"phone,name\n{rows}".encode(), ImportOptions(region="FR", strict=True))
    run_jobs()
    job = _job(passing)
    assert (job.status, job.phase, job.created, job.rows_done) == ("succeeded", "importing", 1200, 1200)
    assert _contacts() == 1200


def test_dry_run_validates_the_whole_file_and_writes_nothing(runtime: Settings) -> None:
    import_id = _start(f"phone\n{phone(1)}\n{phone(2)}\nnope\n".encode(), ImportOptions(dry_run=True))
    run_jobs()
    job = _job(import_id)
    assert (job.status, job.created, job.rejected) == ("succeeded", 2, 1)
    assert _contacts() == 0


def test_progress_is_reported_batch_by_batch(runtime: Settings) -> None:
    rows = "".join(f"{phone(i)}\n" for i in range(1_750))
    import_id = _start(f"phone\n{rows}".encode(), enqueue=False)
    assert _job(import_id).rows_total == 1_750
    seen: list[tuple[int, float, str]] = []
    status = import_runner.run(
        import_id, progress=lambda j: seen.append((j.rows_done, import_jobs.percent(j), j.status))
    )
    assert status == "succeeded"
    assert [s[0] for s in seen] == [500, 1000, 1500, 1750, 1750]
    assert [s[1] for s in seen] == [28.6, 57.1, 85.7, 99.9, 100.0]


def test_cancel_stops_at_the_next_batch(runtime_any_db: Settings) -> None:
    rows = "".join(f"{phone(i)}\n" for i in range(3_000))
    import_id = _start(f"phone\n{rows}".encode(), enqueue=False)

    def cancel_after_first_batch(job: ContactImport) -> None:
        if job.rows_done == 500 and job.status == "running":
            with db.session_scope() as session:
                import_jobs.cancel(session, import_id, actor=PERSON)

    assert import_runner.run(import_id, progress=cancel_after_first_batch) == "cancelled"
    job = _job(import_id)
    assert (job.status, job.created, job.cancel_requested) == ("cancelled", 500, True)
    assert _contacts() == 500  # rows already imported stay
    with pytest.raises(Conflict), db.session_scope() as session:
        import_jobs.cancel(session, import_id, actor=PERSON)
    pending = _start(b"phone\n+33612345678\n")
    with db.session_scope() as session:
        assert import_jobs.cancel(session, pending, actor=PERSON).status == "cancelled"
    run_jobs()  # the queued job finds it cancelled and does nothing
    assert _job(pending).status == "cancelled" and _contacts() == 500


def test_a_crashed_import_resumes_after_its_cursor(runtime_any_db: Settings) -> None:
    rows = "".join(f"{phone(i)},x\n" for i in range(1_300)) + f"{phone(5)},dup\n"
    import_id = _start(f"phone,name\n{rows}".encode(), enqueue=False)

    def crash(job: ContactImport) -> None:
        if job.rows_done == 1000:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        import_runner.run(import_id, progress=crash)
    job = _job(import_id)
    assert (job.status, job.cursor, job.created) == ("running", 1001, 1000)
    assert import_runner.run(import_id) == "succeeded"
    job = _job(import_id)
    assert (job.created, job.skipped, job.rows_done) == (1300, 1, 1301)
    assert _contacts() == 1300
    assert _warnings(import_id) == [(1302, "duplicate_in_file")]  # seen before the crash, still known


def test_attributes_and_consent_follow_french_headers(runtime: Settings) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="email", type="string")
        attributes.define(session, name="fidelite", type="number", segmentable=True)
    data = "Numéro de téléphone,Courriel,Fidélité,Consentement SMS\n+33612345678,a@b.fr,3,oui\n+33612345679,,x,non\n"
    import_id = _start(data.encode())
    run_jobs()
    job = _job(import_id)
    assert (job.created, job.rejected) == (1, 1)
    assert _rejected(import_id)[1][:2] == ["3", "Fidélité: not a valid number for attribute fidelite: "
                                                  "expected a number such as 2.5 or 2,5"]
    with db.session_scope() as session:
        found = service.find_by_phone(session, "+33612345678")
        assert found is not None
        assert (found.attributes, found.consent_status) == ({"email": "a@b.fr", "fidelite": 3}, "opted_in")


def test_finished_imports_are_purged_after_a_week(runtime: Settings) -> None:
    import_id = _start(b"phone\nnope\n")
    run_jobs()
    with db.session_scope() as session:
        assert import_jobs.purge_finished(session) == 0
        assert import_jobs.purge_finished(session, now=utcnow() + timedelta(days=8)) == 1
    with db.session_scope() as session:
        assert session.get(ContactImport, import_id) is None
        assert session.scalar(select(func.count()).select_from(ContactImportProblem)) == 0


def test_writes_go_on_while_a_large_import_runs_on_sqlite(runtime: Settings) -> None:
    rows = "".join(f"{phone(i)},Name {i}\n" for i in range(50_000))
    import_id = _start(f"phone,name\n{rows}".encode())
    worker = threading.Thread(target=run_jobs)
    worker.start()
    written_during_import = 0
    writes = 0
    try:
        while _job(import_id).status in ("pending", "running"):
            with db.session_scope() as session:  # e.g. an inbound text creating its contact
                service.create(session, phone=f"+3375{writes:07d}")
            writes += 1
            written_during_import += _job(import_id).status == "running"
            time.sleep(0.05)
    finally:
        worker.join()
    job = _job(import_id)
    assert (job.status, job.created) == ("succeeded", 50_000)
    # an import holding the write lock throughout made each write wait until it ended (or fail
    # "database is locked" after 30 s): none would have been done while the import was still running
    assert written_during_import >= 5, (written_during_import, writes)
    assert _contacts() == 50_000 + writes


def test_rejected_rows_file_keeps_the_cells_as_uploaded(runtime: Settings) -> None:
    import_id = _start(b'phone,note\n"+33 6",=1+1\n')
    run_jobs()
    lines = _rejected(import_id)
    assert lines[1] == ["2", "phone: the number is too short", "+33 6", "=1+1"]
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    assert "=1+1" in text.getvalue()  # formula neutralising is the download route's job (tests/api)


def test_an_import_out_of_retries_is_marked_failed_not_left_running(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_jobs, "JOB_RETRY", RetryPolicy(max=1, intervals=(0,)))
    import_id = _start(b"phone\n+33612345678\n")
    attempts = []

    def broken(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_runner, "write_batch", broken)
    run_jobs()
    job = _job(import_id)
    assert len(attempts) == 2  # retried once, then given up
    assert job.status == "failed" and "RuntimeError" in job.error and job.finished_at is not None
