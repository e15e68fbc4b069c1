"""A campaign's preparation in one process: processor time per message of the worker and of PostgreSQL.

    python -m bench.prepare --recipients 20000 --rounds 3 --redis-url redis://127.0.0.1:6380/3

What preparing a campaign costs, without the sends: ``bench.send_path`` times it beside the send
step at 5,000 messages, where a round's preparation is a fraction of a second and its spread hides
a change. Set-up, not timed: a fresh PostgreSQL database on ``--database-url``'s server (dropped
after), migrated; Redis at ``--redis-url`` (flushed before and after: the preparation's lock and the
send jobs it enqueues); per round ``--recipients`` opted-in contacts tagged for that round and a
campaign on the tag, made as ``bench.send_path`` makes them (quiet hours 23:59-00:00, country rules
off, the default frequency cap).

Timed per round (``bench.cpu.timed``): ``campaigns.tasks.prepare_campaign``, as the preparation job
runs it: chunks of 5,000 contacts, each one transaction (segment, consent, cap, window, render,
the rows with ``not_before``, the send jobs enqueued after the commit; they are not run). Checked:
one queued message per recipient. ``--profile FILE`` writes a cProfile of the last round (processor
time, sorted by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.cpu import Timing, timed
from bench.send_path import _campaign, _seed_contacts
from bench.stack import add_database_arguments, deployment_settings, fresh_database, load_average


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000, help="campaign messages per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="a Redis database of its own")
    parser.add_argument("--profile", default="", help="write the last round's cProfile here")
    add_database_arguments(parser)
    args = parser.parse_args()

    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    base = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    try:
        with fresh_database(args.database_url, args.database_prefix) as url:
            os.environ.update(deployment_settings(base, url))
            os.environ["RELAIS_REDIS_URL"] = args.redis_url
            _run(args, url)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        client.flushdb()


def _run(args: argparse.Namespace, url: str) -> None:
    from campaigns.tasks import prepare_campaign
    from core import db
    from core.runtime import bootstrap
    from core.schema import migrate

    bootstrap()
    migrate(url)
    database = make_url(url).database
    print(f"{args.recipients:,} recipients per round, {args.rounds} rounds; {load_average()}")
    timings: list[Timing] = []
    profile = cProfile.Profile(time.thread_time) if args.profile else None  # processor time, not wall time
    for round_ in range(1, args.rounds + 1):
        tag = f"round{round_}"
        _seed_contacts(args.recipients, tag, first=round_ * 1_000_000)
        campaign_id = _campaign(tag)
        last = profile is not None and round_ == args.rounds

        def prepare(campaign: int = campaign_id, profiled: bool = last) -> None:
            if profiled and profile is not None:
                profile.runcall(prepare_campaign, campaign)
            else:
                prepare_campaign(campaign)

        timings.append(timed(database, prepare))
        with db.engine().connect() as conn:
            queued = conn.scalar(sa.text("SELECT count(*) FROM messages WHERE campaign_id = :c AND status = 'queued'"),
                                 {"c": campaign_id})  # fmt: skip
        if queued != args.recipients:
            raise SystemExit(f"round {round_}: {queued} messages queued of {args.recipients}")
        print(f"round {round_}: " + timings[-1].line("prepare", args.recipients, "msg"))
    process = [1000 * t.process_cpu / args.recipients for t in timings]
    postgres = [1000 * (t.database_cpu or 0.0) / args.recipients for t in timings]
    print(
        f"prepare ms/msg: process {', '.join(f'{v:.3f}' for v in process)} "
        f"(median {statistics.median(process):.3f}); postgresql {', '.join(f'{v:.3f}' for v in postgres)} "
        f"(median {statistics.median(postgres):.3f}); {load_average()}"
    )
    if profile is not None:
        with open(args.profile, "w") as out:
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(60)


if __name__ == "__main__":
    main()
