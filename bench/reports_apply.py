"""Applying delivery reports in batches: reports/s and processor time per report, against a bare UPDATE.

    python -m bench.reports_apply --rows 20000 --batch 500 --rounds 3

The report job's database step, alone: during a campaign it pops up to 500 reports from Redis and
applies them in one transaction (:func:`delivery.states.apply_delivery_reports`). Set-up, not timed:
a fresh PostgreSQL database on ``--database-url``'s server (``bench.stack.fresh_database``, dropped
after), brought up by the migrations, with ``--rows`` outbound rows in ``sent`` carrying a provider
id and price, as the send jobs leave them. Timed per round: one ``delivered`` report per row (the
provider id, the client-ref, the price, as the fake provider posts them), ``--batch`` per
transaction through ``apply_delivery_reports`` — lookups, row locks, the state machine, the writes,
the check for ``message.status`` subscribers (none here, as in ``bench.campaign_e2e``). Not in the
path: Redis and the JSON decoding of the staged reports, webhook emission.

The limit in the same round: the same rows given the same new values (status, delivered_at) by
one bare executemany ``UPDATE … WHERE id = …`` per batch and transaction — no lookup, no lock, no
rule: what writing the outcome costs at the least. Before each timed step the rows go back to
``sent`` and the table is vacuumed (not timed), so both write the same rows from the same state.

Printed per round and as the median over rounds: reports/s, this process's processor ms per report
(Python: SQLAlchemy, the driver, the rule), the benchmark database's PostgreSQL backends' processor
ms per report (``bench.cpu.snapshot``), and the ratio of the path to the limit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.cpu import Timing, timed
from bench.stack import add_database_arguments, deployment_settings, fresh_database

PROVIDER = "vonage-sms"
PRICE_MICROS = 33_300
T = TypeVar("T")


def _seed(rows: int) -> list[int]:
    """One contact and ``rows`` sent campaign messages; their ids in order."""
    from contacts.service import get_or_create_by_phone
    from conversations.models import Message
    from core import db

    table: sa.Table = Message.__table__  # type: ignore[assignment]
    now = datetime.now(UTC)
    with db.session_scope() as session:
        contact, _ = get_or_create_by_phone(session, phone_e164="+33600000001")
        contact_id = contact.id
    with db.engine().begin() as conn:
        conn.execute(table.insert(), [
            {"contact_id": contact_id, "direction": "out", "body": "", "status": "sent", "provider": PROVIDER,
             "provider_message_id": f"bench-{i}", "lane": "marketing", "author_type": "campaign",
             "price_micros": PRICE_MICROS, "segments": 1, "sent_at": now}
            for i in range(rows)])
        return list(conn.scalars(sa.select(table.c.id).order_by(table.c.id)))


def _reset(engine: sa.Engine) -> None:
    """Every row back to ``sent``, dead tuples vacuumed: each timed step starts from the same table."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE messages SET status = 'sent', delivered_at = NULL"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE messages"))


def _batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="reports per transaction (the report job's)")
    parser.add_argument("--rounds", type=int, default=3)
    add_database_arguments(parser)
    args = parser.parse_args()

    database = fresh_database(args.database_url, args.database_prefix)
    with database as url, tempfile.TemporaryDirectory(prefix="relais-bench-") as data_dir:
        os.environ.update(deployment_settings(Path(data_dir), url))
        from channels.base import DeliveryReport
        from core import db
        from core.runtime import bootstrap
        from core.schema import migrate
        from delivery import states

        bootstrap()
        migrate(url)
        ids = _seed(args.rows)
        engine = db.engine()
        database = make_url(url).database or ""
        occurred = datetime.now(UTC)
        reports = [DeliveryReport(provider=PROVIDER, provider_message_id=f"bench-{n}", status="delivered",
                                  occurred_at=occurred, provider_status="delivered", client_ref=f"relais-{mid}",
                                  price_micros=PRICE_MICROS) for n, mid in enumerate(ids)]
        bare = sa.text("UPDATE messages SET status = :status, delivered_at = :at WHERE id = :id")

        def apply_path() -> None:
            for batch in _batches(reports, args.batch):
                with db.session_scope() as session:
                    states.apply_delivery_reports(session, batch)

        def apply_bare() -> None:
            for batch in _batches(ids, args.batch):
                with engine.begin() as conn:
                    conn.execute(bare, [{"status": "delivered", "at": occurred, "id": mid} for mid in batch])

        def delivered() -> int:
            with engine.connect() as conn:
                return int(conn.scalar(sa.text("SELECT count(*) FROM messages WHERE status = 'delivered'")) or 0)

        print(f"{args.rows:,} sent rows, one delivered report each, {args.batch} per transaction, "
              f"{args.rounds} rounds ({engine.dialect.name})")
        paths, limits = [], []
        for round_ in range(1, args.rounds + 1):
            _reset(engine)
            paths.append(timed(database, apply_path))
            if delivered() != args.rows:
                raise SystemExit(f"round {round_}: {delivered()} of {args.rows} rows delivered by the path")
            _reset(engine)
            limits.append(timed(database, apply_bare))
            print(f"round {round_}")
            print("  " + paths[-1].line("path", args.rows, "report"))
            print("  " + limits[-1].line("limit", args.rows, "report"))
        path = _median(paths)
        limit = _median(limits)
        print("median")
        print("  " + path.line("path", args.rows, "report"))
        print("  " + limit.line("limit", args.rows, "report"))
        spread = [args.rows / t.seconds for t in paths]
        print(f"path reports/s over rounds: min {min(spread):,.0f}, max {max(spread):,.0f}")
        print(f"path / limit: reports/s {limit.seconds / path.seconds:.2f}, "
              f"process processor time {_times(path.process_cpu, limit.process_cpu)}, "
              f"postgresql processor time {_times(path.database_cpu or 0.0, limit.database_cpu or 0.0)}")


def _times(path: float, limit: float) -> str:
    """``x2.4``; ``n/a`` when the limit's processor time is below the clock's tick (a tiny run)."""
    return f"x{path / limit:.1f}" if limit > 0 else "n/a"


def _median(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.seconds for t in timings), statistics.median(t.process_cpu for t in timings),
                  statistics.median(t.database_cpu or 0.0 for t in timings))


if __name__ == "__main__":
    main()
