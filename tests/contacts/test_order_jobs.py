"""Order imports as jobs (the console's) and their preview: a dry run of the one import, stored like contact imports."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from contacts import attributes as attrs
from contacts import import_jobs, order_jobs
from contacts.file_limits import FileLimits
from contacts.models import Order
from contacts.order_import import OrderImportOptions, import_orders
from contacts.order_preview import preview
from core import db
from core.audit import Actor
from core.settings import Settings
from tests.contacts.helpers import create_contact

MIA = Actor(type="user", id="7")
ORDERS = (
    "Commande;Date;Client;Article;Qté;Prix\n"
    "F-1;05/01/2024 10:00;C1;Bougie;2;12,50\n"
    "F-2;06/01/2024 11:00;C2;Plaid;1;60,00\n"  # C2: no contact has it
    "F-3;07/01/2024 12:00;C1;Savon;deux;3,00\n"
)


def _customer() -> int:
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        return create_contact(session, 1, attributes={"customer_id": "C1"}).id


def _start(day_first: bool | None) -> int:
    with db.session_scope() as session:
        options = OrderImportOptions(day_first=day_first, mapping={"Client": "customer_id"}, currency="EUR")
        job = order_jobs.start(session, io.BytesIO(ORDERS.encode()), filename="commandes.csv", options=options,
                               limits=FileLimits(), actor=MIA, enqueue=False)  # fmt: skip
        return job.id


def _orders() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count(Order.id))) or 0


def test_an_order_import_job_records_once_and_keeps_its_report_and_rejected_rows(runtime_any_db: Settings) -> None:
    _customer()
    first = _start(day_first=True)
    assert order_jobs.run(first) == "succeeded"
    assert order_jobs.run(first) == "succeeded"  # a repeat of a finished job does nothing
    with db.session_scope() as session:
        job = order_jobs.get(session, first)
        assert (job.status, job.created, job.skipped, job.rejected) == ("succeeded", 1, 0, 2)
        assert job.summary is not None and job.summary["unknown_customers"] == 1 and job.summary["customers"] == 1
        assert job.summary["rejected_by_code"] == {"bad_quantity": 1, "unknown_customer": 1}
        rejected = list(import_jobs.rejected_rows(session, job))
        assert [line[:2] for line in rejected[1:]] == [
            ["3", "Client: no contact has this customer id, phone or e-mail"],
            ["4", "Qté: not a whole number of units other than 0 (at most 1,000,000)"]]  # fmt: skip
        assert rejected[2][2:] == ["F-3", "07/01/2024 12:00", "C1", "Savon", "deux", "3,00"]
        assert [j.id for j in order_jobs.recent(session)] == [first] and import_jobs.recent(session) == []
    second = _start(day_first=True)
    assert order_jobs.run(second) == "succeeded"
    with db.session_scope() as session:
        job = order_jobs.get(session, second)
        assert (job.created, job.skipped) == (0, 1)
    assert _orders() == 1


def test_dates_that_read_both_ways_fail_the_job_asking_which(runtime_any_db: Settings) -> None:
    _customer()
    job_id = _start(day_first=None)
    assert order_jobs.run(job_id) == "failed"
    with db.session_scope() as session:
        assert "say which, day first (31/12/2011) or month first" in order_jobs.get(session, job_id).error
    assert _orders() == 0


def test_the_preview_asks_the_dates_way_then_reads_rows_as_the_import_will(runtime_any_db: Settings) -> None:
    _customer()
    options = OrderImportOptions(mapping={"Client": "customer_id"})
    with db.session_scope() as session:
        asked = preview(session, io.BytesIO(ORDERS.encode()), filename="c.csv", options=options, limits=FileLimits())
        assert asked.ask_day_first and not asked.ready
        read = preview(session, io.BytesIO(ORDERS.encode()), filename="c.csv",
                       options=OrderImportOptions(mapping={"Client": "customer_id"}, day_first=True),
                       limits=FileLimits())  # fmt: skip
    assert read.ready and read.report is not None and (read.report.orders_created, read.report.error_count) == (1, 2)
    assert [row.values["ordered_at"] for row in read.rows] == ["05 Jan 2024 10:00", "06 Jan 2024 11:00",
                                                              "07 Jan 2024 12:00"]  # fmt: skip
    assert [row.problems[0]["code"] if row.problems else "" for row in read.rows] == [
        "", "unknown_customer", "bad_quantity"]  # fmt: skip
    assert {c.column: c.target for c in read.columns}["Client"] == "customer_id"
    assert not read.report.stopped_early
    with db.session_scope() as session:
        quick = preview(session, io.BytesIO(ORDERS.encode()), filename="c.csv", checked_rows=2,
                        options=OrderImportOptions(mapping={"Client": "customer_id"}, day_first=True),
                        limits=FileLimits())  # fmt: skip
    assert quick.report is not None and quick.report.stopped_early and quick.report.rows == 2
    assert len(quick.rows) == 3  # the rows shown are the first ones all the same
    assert _orders() == 0


def test_the_preview_of_columns_it_cannot_read_says_what_is_missing(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        found = preview(session, io.BytesIO(b"Ref;Quand;Qui;Combien;PU\nF-1;2024-01-05;C1;1;2\n"), filename="x.csv",
                        options=OrderImportOptions(), limits=FileLimits())  # fmt: skip
    assert not found.ready and "no column maps to order_id" in found.problem
    assert {c.column: c.target for c in found.columns}["Ref"] == "product_id"


def test_a_large_file_commits_batch_by_batch_and_a_retried_job_hands_each_row_back_once(
    runtime_any_db: Settings,
) -> None:
    _customer()
    lines = [f"F-{n};05/01/2024 10:00;{'C1' if n % 3 else 'C9'};Bougie;1;12,50" for n in range(1, 1201)]
    header = "Commande;Date;Client;Article;Qté;Prix\n"
    data = (header + "\n".join(lines) + "\n").encode()
    options = OrderImportOptions(day_first=True, mapping={"Client": "customer_id"}, currency="EUR")
    with db.session_scope() as session:
        job_id = order_jobs.start(session, io.BytesIO(data), filename="grand.csv", options=options,
                                  limits=FileLimits(), actor=MIA, enqueue=False).id  # fmt: skip
    # as a worker stopped mid-import leaves it: the first 600 rows' batches committed, with their rejected rows
    with db.session_scope() as session:
        job = order_jobs.get(session, job_id)
        job.status = "running"
        half = (header + "\n".join(lines[:600]) + "\n").encode()
        import_orders(session, io.BytesIO(half), options, filename="grand.csv",
                      rejected=order_jobs.StoredRejections(session, job))  # fmt: skip
    assert order_jobs.run(job_id) == "succeeded"  # the queue's retry
    with db.session_scope() as session:
        job = order_jobs.get(session, job_id)
        assert (job.rows_done, job.created, job.skipped, job.rejected) == (1200, 400, 400, 400)
        assert len(list(import_jobs.rejected_rows(session, job))) == 1 + 400  # each rejected row once
    assert _orders() == 800
