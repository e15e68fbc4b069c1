"""The API's processor time per Vonage delivery report, alone: signed reports posted to a real ``relais run``.

    python -m bench.status_webhook --reports 6000 --rounds 3 --redis-url redis://127.0.0.1:6380/1

In a campaign the API process does little but answer the provider's status webhook, one per message
(``POST /webhooks/vonage/status``: signature, parse, the report pushed to Redis, 200). The end-to-end
bench (``bench.campaign_e2e``) shares two cores among seven processes, so a change worth 10 % of the
API hides in its spread; here only the API works, and alternating runs from two clones compares two
versions of the code.

Set-up, not timed: the production layout of ``bench/stack.py`` without workers (a fresh PostgreSQL
database, Redis at ``--redis-url`` flushed, the fake provider idle, ``relais run --no-workers``, the
Vonage channel with a signature secret), then ``--warmup`` reports. Timed per round: ``--reports``
signed ``delivered`` reports, each body exactly what the fake provider posts
(``bench.fake_provider.delivery_report``), sent open loop at ``--rate`` over ``--connections``
keep-alive connections (``bench.loadgen``), those due within each ``--burst-ms`` together, as the fake
provider posts the reports of each of its 5 ms batches (``--burst-ms 0``: one at a time, evenly spread, the
shape of the figures before 2026-11-30 17:55: each push to Redis then carries about one report, where the
campaign's carry several, docs/delivery.md); the API process's processor time from /proc over the
round, divided by the reports. With no worker the apply job stays queued and its flag up, so each
push is the RPUSH and the flag's SET NX and nothing else, as when a worker is busy applying. It exits
1 unless every report was answered 200 and is in Redis.

``--profile FILE`` also serves the same app in a second process under cProfile (processor-time
clock, the event loop's thread), posts one more round to it and writes the statistics to FILE and
the top functions to stdout; its figures are not the measured ones, and cProfile charges each Python
call, so it overstates steps made of many small calls (the SDK's signature check, 19 of the ~330 µs
the app spent per report in process, showed as a fifth of the event loop's time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench import fake_provider
from bench.cpu import TICKS
from bench.loadgen import open_loop, percentile
from bench.stack import API_KEY, REPO, SIGNATURE_SECRET, add_common_arguments, load_average, production_stack

PATH = "/webhooks/vonage/status"


def reports(count: int) -> list[bytes]:
    """``count`` signed ``delivered`` reports for distinct messages, dated now."""
    batch = uuid.uuid4().hex[:8]
    return [
        fake_provider.delivery_report(
            {"to": f"336{10000000 + i}", "from": "38100", "client-ref": f"{batch}-{i}"},
            f"{batch}{i:08X}",
            api_key=API_KEY,
            secret=SIGNATURE_SECRET,
        )
        for i in range(count)
    ]


def post_round(
    port: int, count: int, *, rate: float, connections: int, burst: float = 0.0
) -> tuple[float, list[float], int]:
    """Post ``count`` fresh reports open loop, those due within each ``burst`` s together; returns (wall
    seconds, latencies, failures)."""
    bodies = reports(count)
    start = time.perf_counter()
    latencies, failures = asyncio.run(
        open_loop(port, PATH, bodies, rate=rate, connections=connections, on_sent=lambda _i, _t: None, every=burst)
    )
    return time.perf_counter() - start, latencies, failures


def api_seconds(pid: int) -> tuple[float, float]:
    """Processor seconds the API process has spent so far: in user mode, in the kernel (its reads and writes)."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def serve_profiled(port: int, out: Path) -> None:
    """Serve the app as ``relais run --no-workers`` does; SIGUSR1 starts the profile, SIGUSR2 writes it to ``out``."""
    import uvicorn

    from api.app import create_app
    from core.settings import get_settings

    profile = cProfile.Profile(time.process_time)

    def start(_signum: int, _frame: object) -> None:
        profile.enable()

    def stop(_signum: int, _frame: object) -> None:
        profile.disable()
        profile.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    uvicorn.run(create_app(get_settings()), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def profile_round(env: dict[str, str], args: argparse.Namespace) -> None:
    """One round against a cProfiled copy of the API (see the module docstring)."""
    port, out = fake_provider.free_port(), Path(args.profile).resolve()
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.status_webhook", "--serve-profiled", str(port), "--profile", str(out)]
    server = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):
                try:
                    if client.get("/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
        post_round(port, args.warmup, rate=args.rate, connections=args.connections, burst=args.burst_ms / 1000)
        server.send_signal(signal.SIGUSR1)
        post_round(port, args.reports, rate=args.rate, connections=args.connections, burst=args.burst_ms / 1000)
        server.send_signal(signal.SIGUSR2)
        for _ in range(100):
            if out.exists() and out.stat().st_size:
                break
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    stats = pstats.Stats(str(out))
    print(f"profile of {args.reports} reports (processor time, event loop's thread) in {out}:")
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--reports", type=int, default=6000, help="reports per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=800.0, help="reports per second, open loop")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (the fake's 8)")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--burst-ms", type=float, default=fake_provider.FLUSH_SECONDS * 1000,
                        help="reports due within this many ms leave together (the fake provider's batches); 0: evenly")
    parser.add_argument("--profile", default="", help="also write a cProfile of one round to this file")
    parser.add_argument("--serve-profiled", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_profiled:
        serve_profiled(args.serve_profiled, Path(args.profile))
        return 0
    print(f"{load_average()}; code from {REPO}")
    with production_stack(
        database_url=args.database_url, database_prefix=args.database_prefix, redis_url=args.redis_url, workers=0
    ) as stack:
        pid = stack.processes["api"].pid
        burst = args.burst_ms / 1000
        failed = post_round(stack.api_port, args.warmup, rate=args.rate, connections=args.connections, burst=burst)[2]
        per_report = []
        for index in range(args.rounds):
            user, system = api_seconds(pid)
            seconds, latencies, failures = post_round(
                stack.api_port, args.reports, rate=args.rate, connections=args.connections, burst=burst
            )
            user, system = (after - before for after, before in zip(api_seconds(pid), (user, system), strict=True))
            per_report.append((user + system) / args.reports * 1e6)
            failed += failures
            p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
            print(f"round {index + 1}: {args.reports} reports in {seconds:.1f} s, {failures} failed, "
                  f"latency p50 {p50:.1f} ms p95 {p95:.1f} ms; "
                  f"API {per_report[-1]:.0f} us per report ({user / args.reports * 1e6:.0f} user, "
                  f"{system / args.reports * 1e6:.0f} system), {load_average()}")  # fmt: skip
        kept = stack.redis.llen("relais:reports:pending")
        rounds = ", ".join(f"{v:.0f}" for v in per_report)
        print(f"API processor time per report: median {statistics.median(per_report):.0f} us ({rounds}); "
              f"{failed} failed, {kept} reports kept in Redis")  # fmt: skip
        if args.profile:
            profile_round(stack.env, args)
    return 0 if failed == 0 and kept == args.warmup + args.rounds * args.reports else 1


if __name__ == "__main__":
    sys.exit(main())
