"""The limiter at a configured rate for one sender: achieved rate and the worst 1-second window.

    python -m bench.limiter --rate 50 --seconds 60 --threads 8

Threads compete for one sender bucket (and a faster account bucket) the way sending threads do,
sleeping until their slot; every granted slot (Redis server time) is recorded.
"""

from __future__ import annotations

import argparse
import bisect
import os
import tempfile
import threading
import time
from pathlib import Path

import redis


def worst_window(slots_us: list[int], window_us: int = 1_000_000) -> int:
    """The most grants in any window of ``window_us`` (sliding over every grant)."""
    ordered = sorted(slots_us)
    return max((bisect.bisect_left(ordered, s + window_us) - i for i, s in enumerate(ordered)), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redis-url", default=os.environ.get("RELAIS_REDIS_URL", ""))
    args = parser.parse_args()

    from delivery.limiter import RateLimiter, account_bucket, sender_bucket

    if args.redis_url:
        client = redis.Redis.from_url(args.redis_url)
    else:
        from core.redis import embedded_server

        client = redis.Redis.from_url(embedded_server(Path(tempfile.mkdtemp(prefix="relais-bench-"))))
    client.delete("relais:rate:sender:bench", "relais:rate:account:bench")
    limiter = RateLimiter(client)
    buckets = (sender_bucket("bench", args.rate), account_bucket("bench", args.rate * 20))
    slots: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def run() -> None:
        while time.monotonic() < stop:
            grant = limiter.acquire(buckets, max_wait=2.0)
            if grant.granted:
                with lock:
                    slots.append(grant.slot_us)

    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    span = (slots[-1] - slots[0]) / 1_000_000 if len(slots) > 1 else 0.0
    achieved = (len(slots) - 1) / span if span else 0.0
    full = [s for s in slots if s + 1_000_000 <= slots[-1]]
    print(f"configured rate     {args.rate:.1f} msg/s, {args.threads} threads, {args.seconds:.0f} s")
    print(f"grants              {len(slots)}")
    print(f"achieved rate       {achieved:.2f} msg/s ({(achieved / args.rate - 1) * 100:+.2f} %)")
    print(f"worst 1 s window    {worst_window(slots)} grants (limit {int(args.rate)})")
    fewest = min((bisect.bisect_left(slots, s + 1_000_000) - i for i, s in enumerate(full)), default=0)
    print(f"fewest in a full 1 s window {fewest}")


if __name__ == "__main__":
    main()
