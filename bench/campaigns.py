"""Campaign preparation benchmark: ``python -m bench.campaigns --recipients 100000``.

Seeds N contacts (1 % opted out, mixed time zones and languages) in a fresh database, in a child
process so its memory is not counted, then times one campaign preparation end to end: segment →
consent → frequency cap → quiet-hours grouping → render (with a tracked link and the opt-out
footer) → insert of the ``Message`` rows with their planned time → send jobs queued in Redis. Prints the time and
the peak RSS of the preparing process (ru_maxrss), before and after, to show memory stays flat.

SQLite in a temporary directory and an embedded Redis unless ``--database-url`` /
``RELAIS_REDIS_URL`` say otherwise.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import multiprocessing
import os
import pstats
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

ZONES = (
    ("FR", "Europe/Paris", "fr"),
    ("US", "America/New_York", "en"),
    ("DE", "Europe/Berlin", "de"),
    ("ES", "Europe/Madrid", "es"),
    ("GB", "Europe/London", "en"),
    ("BR", "America/Sao_Paulo", "pt"),
)
BODY = 'Bonjour {{ first_name | default("") }}, -20% ce week-end sur https://shop.example/soldes'
SEED_CHUNK = 20_000


def _environment(data_dir: Path, database_url: str) -> None:
    os.environ.setdefault("RELAIS_ENCRYPTION_KEYS", "b1:" + base64.b64encode(secrets.token_bytes(32)).decode())
    os.environ.setdefault("RELAIS_BLIND_INDEX_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    os.environ.setdefault("RELAIS_SECRET_KEY", secrets.token_hex(16))
    os.environ["RELAIS_DATA_DIR"] = str(data_dir)
    os.environ["RELAIS_DATABASE_URL"] = database_url
    os.environ.setdefault("RELAIS_LOG_JSON", "false")


def _seed(data_dir: str, database_url: str, recipients: int) -> None:
    """Child process: schema + N contacts via bulk inserts (phones encrypted like real ones)."""
    _environment(Path(data_dir), database_url)
    from sqlalchemy import insert

    from contacts.models import Contact
    from core import db
    from core.crypto import blind_index
    from core.runtime import bootstrap
    from core.schema import load_models

    bootstrap()
    metadata = load_models()
    metadata.drop_all(db.engine())
    metadata.create_all(db.engine())
    for start in range(0, recipients, SEED_CHUNK):
        rows: list[dict[str, object]] = []
        for i in range(start, min(start + SEED_CHUNK, recipients)):
            country, zone, language = ZONES[i % len(ZONES)]
            phone = f"+3360{i:08d}"
            rows.append(
                {
                    "phone": phone,
                    "phone_index": blind_index(phone),
                    "country": country,
                    "timezone": zone,
                    "language": language,
                    "first_name": f"Client{i}" if i % 3 else None,
                    "attributes": {},
                    "tags": [],
                    "opted_out": i % 100 == 0,
                    "consent_status": "opted_in",
                }
            )
        with db.session_scope() as session:
            session.execute(insert(Contact), rows)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        _environment(Path(tmp), database_url)  # before the child starts: it inherits the same keys
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=_seed, args=(tmp, database_url, args.recipients))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("seeding failed", file=sys.stderr)
            return 1
        seeded = time.perf_counter() - started
        from sqlalchemy import func, select

        from campaigns import flows, service, tasks
        from campaigns.models import Campaign
        from campaigns.schemas import CampaignIn, TemplateIn
        from conversations.models import Message
        from core import db
        from core.db import utcnow
        from core.runtime import bootstrap

        bootstrap()
        with db.session_scope() as session:
            template = service.save_template(session, TemplateIn(name="bench", language="fr", body=BODY))
            campaign = service.create_campaign(
                session, CampaignIn(name="bench", template_id=template.id), created_by="bench"
            )
            campaign_id = campaign.id
        rss_before = _rss_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        with db.session_scope() as session:
            flows.start_run(session, session.get_one(Campaign, campaign_id), now=utcnow())
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        queued = tasks.prepare_campaign(campaign_id)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        with db.session_scope() as session:
            rows = session.scalar(select(func.count()).select_from(Message).where(Message.campaign_id == campaign_id))
            skipped = session.get_one(Campaign, campaign_id).skipped
        print(f"recipients={args.recipients} seeded_in={seeded:.1f}s database={database_url.split(':')[0]}")
        print(f"prepared={queued} rows={rows} skipped={skipped}")
        print(f"prepare_seconds={elapsed:.2f} cpu_seconds={cpu:.2f} rate={queued / elapsed:,.0f}/s "
              f"load_average={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}")
        print(f"peak_rss_mb_before={rss_before:.0f} peak_rss_mb_after={_rss_mb():.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
