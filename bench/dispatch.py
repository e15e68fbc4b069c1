"""Dispatch N messages through the full path and print messages/s and memory.

    python -m bench.dispatch --messages 100000 --workers 2

Path: rows queued in the database → RQ jobs of ``--batch`` ids on the marketing lane → worker
processes (the real ``send_messages`` job) → consent and sender → Redis limiter → the real Vonage
SDK over HTTPS to a fake Vonage server on 127.0.0.1 (``bench.fake_provider``, its own processes)
→ status ``sent`` stored. The fake provider counts calls per client_ref, so duplicates and losses
are reported too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

WORKER = """
from core.runtime import bootstrap
from workers.runner import make_worker
bootstrap()
make_worker(threaded=True).work(burst=True, logging_level="ERROR")
"""


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10_000.0, help="sender and account rate (msg/s)")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default="", help="default: an embedded Redis")
    parser.add_argument("--provider-processes", type=int, default=1)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="relais-dispatch-"))
    os.environ.update(
        {
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_DATABASE_URL": args.database_url or f"sqlite:///{data_dir / 'relais.db'}",
            "RELAIS_LOG_LEVEL": "ERROR",
            "RELAIS_LOG_JSON": "false",
            "RELAIS_CHANNEL": "vonage",
            "RELAIS_VONAGE_API_KEY": "bench",
            "RELAIS_VONAGE_API_SECRET": "bench-secret",
        }
    )
    os.environ.setdefault("RELAIS_ENCRYPTION_KEYS", "b1:" + "a" * 43 + "=")
    os.environ.setdefault("RELAIS_BLIND_INDEX_KEY", "b" * 43 + "=")
    from core.redis import embedded_server

    os.environ["RELAIS_REDIS_URL"] = args.redis_url or embedded_server(data_dir)
    from bench import fake_provider

    provider, host, ca_bundle = fake_provider.start(
        directory=data_dir, redis_url=os.environ["RELAIS_REDIS_URL"], processes=args.provider_processes
    )
    os.environ.update(
        {
            "REQUESTS_CA_BUNDLE": str(ca_bundle),
            "RELAIS_VONAGE_API_HOST": host,
            "RELAIS_VONAGE_REST_HOST": host,
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )

    from sqlalchemy import func, insert, select

    from channels.senders import create_sender, set_account_rate
    from contacts.consent import record_opt_in
    from contacts.service import get_or_create_by_phone
    from conversations.flows import send_job
    from conversations.models import Message
    from core import db
    from core.queue import enqueue
    from core.runtime import bootstrap
    from core.schema import load_models

    bootstrap()
    load_models().create_all(db.engine())
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=args.rate, country="FR")
        set_account_rate(session, name="default", throughput=args.rate)
        contact_ids = []
        for n in range(1000):
            contact, _ = get_or_create_by_phone(session, phone_e164=f"+336{20000000 + n}", country="FR")
            record_opt_in(session, contact=contact, source="form", proof="bench")  # marketing needs an opt-in
            contact_ids.append(contact.id)
    print(f"queueing {args.messages} messages ...", flush=True)
    with db.session_scope() as session:
        rows = [
            {
                "direction": "out",
                "contact_id": contact_ids[n % len(contact_ids)],
                "body": f"Flash sale {n}: 20% off today",
                "status": "queued",
                "lane": "marketing",
                "media": [],
                "analysis": {},
                "encoding": "GSM-7",
                "segments": 1,
            }
            for n in range(args.messages)
        ]
        session.execute(insert(Message), rows)
        ids = list(session.scalars(select(Message.id).order_by(Message.id)))
    for start in range(0, len(ids), args.batch):
        enqueue(send_job(ids[start : start + args.batch], lane="marketing"))
    client = redis.Redis.from_url(os.environ["RELAIS_REDIS_URL"])
    client.delete(fake_provider.CALLS_KEY)
    started = time.perf_counter()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER], cwd=Path(__file__).resolve().parents[1])
        for _ in range(args.workers)
    ]
    peak = 0.0
    while any(w.poll() is None for w in workers):
        peak = max([peak, *(_peak_rss_mb(w.pid) for w in workers)])
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    with db.session_scope() as session:
        by_status = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    calls = fake_provider.calls(client)
    provider.terminate()
    provider.wait()
    print(f"messages            {args.messages} in {elapsed:.1f} s with {args.workers} workers (batch {args.batch})")
    print(f"throughput          {by_status.get('sent', 0) / elapsed:.0f} msg/s stored as sent")
    lost = args.messages - len(calls)
    duplicates = sum(c - 1 for c in calls.values() if c > 1)
    print(f"provider calls      {sum(calls.values())}, duplicates {duplicates}, never sent {lost}")
    print(f"final statuses      {by_status}")
    print(f"peak worker RSS     {peak:.0f} MB per worker")


if __name__ == "__main__":
    main()
