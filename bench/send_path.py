"""A campaign's worker-side path in one process: preparation, then the send batches, processor time per message.

    python -m bench.send_path --messages 5000 --rounds 2 --redis-url redis://127.0.0.1:6380/2

What a campaign message costs a worker process and PostgreSQL, without the API, the reports or the
other worker: the end-to-end bench (``bench.campaign_e2e``) shares two cores among seven processes,
so a change worth 5 % of a worker hides in its spread; here the two steps a worker runs are timed
alone, and alternating runs from two clones compares two versions of the code.

Set-up, not timed: a fresh PostgreSQL database on ``--database-url``'s server (dropped after),
migrated; Redis at ``--redis-url`` (flushed before and after); the fake Vonage SMS API
(``bench/fake_provider.py``, its own process, TLS); 12 French short codes and the provider account
at ``--sender-rate`` each (high by default, so the limiter never makes a lane sleep: what is
measured is processor time, not the rate); ``--messages`` opted-in contacts per round, inserted
directly, tagged for that round; a template and a campaign on the round's tag, as the end-to-end
bench makes them (quiet hours 23:59-00:00, country rules off, the default frequency cap).

Timed per round, each step's processor time of this process and of the bench database's PostgreSQL
backends (``bench.cpu.timed``):

* **prepare**: ``campaigns.tasks.prepare_campaign`` after ``campaigns.flows.start_run``, as the
  preparation job runs it (segment, consent, cap, window, render, row inserts, send jobs enqueued in
  Redis; the jobs are not run);
* **send**: the ids in batches of 500 (the preparation's send jobs) through the worker's delivery
  engine (``workers.delivery.runtime.get_engine``: ``RELAIS_SEND_CONCURRENCY`` lanes, claim,
  authority, sender choice, Redis limiter and journal, Vonage SDK → fake, sends recorded).

Checked after each round: every message ``sent`` with one provider call per client-ref. Not in the
path: the status callback (the fake posts no reports: no public URL, so the form has no
``callback``), the report job, the API, RQ's job overhead. ``--profile FILE`` writes a cProfile of
the send step's lanes and main thread (pstats, sorted by own time) to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import fake_provider
from bench.cpu import Timing, timed
from bench.stack import add_database_arguments, deployment_settings, fresh_database, load_average

TEMPLATE = "Maison Lumière: -20% ce week-end sur les lampes, code SOLDES20"
SENDERS = 12
BATCH = 500


def _seed_contacts(count: int, tag: str, first: int) -> None:
    from contacts.models import Contact, ContactTag
    from core import db
    from core.crypto import blind_index

    table: sa.Table = Contact.__table__  # type: ignore[assignment]
    phones = [f"+336{10000000 + first + i}" for i in range(count)]
    rows = [{"phone": p, "phone_index": blind_index(p), "country": "FR", "first_name": f"Client{p[-6:]}",
             "timezone": "Europe/Paris", "attributes": {}, "tags": [tag], "opted_out": False,
             "consent_status": "opted_in", "external_ids": {}, "erased": False} for p in phones]  # fmt: skip
    tags: sa.Table = ContactTag.__table__  # type: ignore[assignment]
    with db.engine().begin() as conn:
        for start in range(0, len(rows), 1000):
            ids = conn.scalars(table.insert().returning(table.c.id), rows[start:start + 1000]).all()
            conn.execute(tags.insert(), [{"contact_id": i, "tag": tag} for i in ids])


def _campaign(tag: str) -> int:
    from campaigns import flows, service
    from campaigns.schemas import CampaignIn, TemplateIn
    from core import db

    with db.session_scope() as session:
        template = service.save_template(session, TemplateIn(name=f"bench {tag}", body=TEMPLATE, language="fr"))
        campaign = service.create_campaign(session, CampaignIn(
            name=f"bench {tag}", template_id=template.id,
            segment={"all": [{"field": "tag", "op": "has", "value": tag}]}, timezone="Europe/Paris",
            quiet_start="23:59", quiet_end="00:00", respect_country_rules=False, sender="",
        ), created_by="bench")  # fmt: skip
        flows.start_run(session, campaign, now=datetime.now(UTC))
        return campaign.id


def _profiled(engine: Any, profiles: list[cProfile.Profile]) -> None:
    """Profile every lane of ``engine`` (each lane is a thread cProfile does not follow; a lane's profile
    is complete once the engine is closed)."""
    run_lane = engine._run_lane

    def lane() -> Any:
        profile = cProfile.Profile(time.thread_time)  # processor time, not wall time
        profiles.append(profile)
        return profile.runcall(run_lane)

    engine._run_lane = lane


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="campaign messages per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sender-rate", type=float, default=5000.0, help="each short code's rate (msg/s)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="a Redis database of its own")
    parser.add_argument("--profile", default="", help="write the send step's cProfile (lanes and main thread) here")
    parser.add_argument("--per-call", type=int, default=0,
                        help="slots a lane books per Redis call (the engine's reservations_per_call; 0: its default)")
    add_database_arguments(parser)
    args = parser.parse_args()

    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    base = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    provider, host, ca_bundle = fake_provider.start(directory=base, redis_url=args.redis_url)
    try:
        with fresh_database(args.database_url, args.database_prefix) as url:
            os.environ.update(deployment_settings(base, url))
            os.environ.update({
                "RELAIS_REDIS_URL": args.redis_url, "RELAIS_CHANNEL": "vonage", "RELAIS_VONAGE_API_KEY": "bench",
                "RELAIS_VONAGE_API_SECRET": "bench-secret", "RELAIS_VONAGE_API_HOST": host,
                "RELAIS_VONAGE_REST_HOST": host, "REQUESTS_CA_BUNDLE": str(ca_bundle), "NO_PROXY": "127.0.0.1",
            })  # fmt: skip
            _run(args, url, client)
    finally:
        provider.terminate()
        provider.wait(10)
        shutil.rmtree(base, ignore_errors=True)
        client.flushdb()


def _run(args: argparse.Namespace, url: str, client: redis.Redis) -> None:
    from campaigns.tasks import prepare_campaign
    from channels.senders import create_sender, set_account_rate
    from core import db
    from core.runtime import bootstrap
    from core.schema import migrate
    from workers.delivery import runtime

    bootstrap()
    migrate(url)
    database = make_url(url).database
    with db.session_scope() as session:
        for n in range(SENDERS):
            create_sender(session, kind="short_code", address=f"{38100 + n}", country="FR",
                          throughput=args.sender_rate)  # fmt: skip
        set_account_rate(session, name="default", throughput=min(100_000, SENDERS * args.sender_rate))
    engine = runtime.get_engine()
    if args.per_call:
        engine._queue.group = engine._unjournalled._due_at = args.per_call
    profiles: list[cProfile.Profile] = []
    if args.profile:
        _profiled(engine, profiles)
    print(f"{args.messages:,} campaign messages per round, {args.rounds} rounds, batches of {BATCH}, "
          f"{engine._concurrency} lanes, {engine._queue.group} slots booked per Redis call; {load_average()}")
    totals: dict[str, list[Timing]] = {"prepare": [], "send": []}
    for round_ in range(1, args.rounds + 1):
        tag = f"round{round_}"
        _seed_contacts(args.messages, tag, first=round_ * 1_000_000)
        campaign_id = _campaign(tag)
        def prepare(campaign: int = campaign_id) -> None:
            prepare_campaign(campaign)

        prepared = timed(database, prepare)
        with db.engine().connect() as conn:
            ids = list(conn.scalars(sa.text("SELECT id FROM messages WHERE campaign_id = :c ORDER BY id"),
                                    {"c": campaign_id}))  # fmt: skip
        if len(ids) != args.messages:
            raise SystemExit(f"round {round_}: {len(ids)} messages prepared of {args.messages}")
        main_profile = cProfile.Profile(time.thread_time) if args.profile else None

        def send(batch_ids: list[int] = ids, profile: cProfile.Profile | None = main_profile) -> None:
            if profile is not None:
                profile.enable()
            for start in range(0, len(batch_ids), BATCH):
                engine.send_batch(batch_ids[start:start + BATCH])
            if profile is not None:
                profile.disable()

        sent = timed(database, send)
        if main_profile is not None:
            profiles.append(main_profile)
        _check(campaign_id, ids, client)
        totals["prepare"].append(prepared)
        totals["send"].append(sent)
        print(f"round {round_}")
        print("  " + prepared.line("prepare", args.messages, "msg"))
        print("  " + sent.line("send", args.messages, "msg"))
    runtime.reset()
    for step, timings in totals.items():
        process = sorted(1000 * t.process_cpu / args.messages for t in timings)
        postgres = sorted(1000 * (t.database_cpu or 0.0) / args.messages for t in timings)
        print(f"{step:<8} process ms/msg {', '.join(f'{v:.3f}' for v in process)}; "
              f"postgresql ms/msg {', '.join(f'{v:.3f}' for v in postgres)}")
    if profiles:
        stats = pstats.Stats(profiles[0], stream=io.StringIO())
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(args.profile)
        print(f"profile of the send step: {args.profile}")


def _check(campaign_id: int, ids: list[int], client: redis.Redis) -> None:
    from core import db

    with db.engine().connect() as conn:
        counted = conn.execute(sa.text("SELECT status, count(*) FROM messages WHERE campaign_id = :c GROUP BY status"),
                               {"c": campaign_id})  # fmt: skip
        statuses: dict[str, int] = {str(status): int(n) for status, n in counted}
    time.sleep(0.2)  # the fake writes its counts every 5 ms
    calls = fake_provider.calls(client)
    once = sum(1 for i in ids if calls.get(f"relais-{i}") == 1)
    if statuses != {"sent": len(ids)} or once != len(ids):
        raise SystemExit(f"campaign {campaign_id}: statuses {statuses}, {once} of {len(ids)} refs called once")


if __name__ == "__main__":
    main()
