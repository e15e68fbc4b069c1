"""A campaign end to end on the production layout: msg/s from the schedule call to the last delivery report.

    python -m bench.campaign_e2e [--recipients 100000] [--workers 2] [--senders 12 --sender-rate 100]

Layout (``bench/stack.py``): a fresh PostgreSQL database, Redis, ``relais run --no-workers`` (the
API), ``--workers`` × ``relais worker`` (the first with the scheduler), the real Vonage SDK over
TLS to the fake Vonage provider (``bench/fake_provider.py``, its own process), which posts a signed
``delivered`` report for each message to ``/webhooks/vonage/status`` on the API.

Set-up, through the API and **not timed**: ``--senders`` French short codes at ``--sender-rate``
msg/s each and the provider account's rate at their sum (Vonage provisions a short code at a few
tens to 100 msg/s; a 1,000 msg/s campaign needs an account rate negotiated to match), the
contacts imported as a CSV through ``POST /api/v1/contacts/import`` (the import job runs on the
workers) with ``consent=yes`` and tag ``bench``, a marketing template, a campaign on the segment
"tag bench" with quiet hours 23:59–00:00 local and country rules off (the window is the whole
day but one minute: the bench measures throughput, not the window), default frequency cap.

Timed: ``POST /campaigns/{id}/schedule`` (send now) → preparation on a worker (segment, consent,
cap, window, render, rows with their planned time, send jobs) → send jobs on the workers
(claim, the send authority, sender choice, Redis limiter, Vonage SDK call) → the fake's report →
the API checks its signature and keeps it → the report job on a worker applies it in a batch
(``delivered``). Also printed: when the last message reached the provider
(the fake's latest first-arrival time), so the sending and the reports can be told apart. The
clock stops when the database counts every row ``delivered`` (polled every 0.25 s once the fake has
seen every message; until then the bench reads only the fake's count in Redis, so its own queries do
not load the database it measures).

Checked: every recipient's client-ref reached the provider exactly once (the fake counts calls per
client-ref in Redis): lost = refs never called, duplicated = calls beyond the first; all rows
``delivered``.

The floor of the path, in the same run (``bench/floor.py``): everything in it that is not Relais —
the real Vonage SDK client as the adapter builds it, in as many processes as ``--workers`` and as
many threads each as a worker's delivery engine, sending for ``--floor-seconds`` to the same fake,
which posts its signed reports to a bare receiver that checks the signature and answers 200. Its
processor time per message (senders, fake, receiver, Redis) gives the rate the machine's cores
could carry at that cost (cores × 1000 / ms), and Relais's end-to-end rate is printed as a share of
it. Also the fake's raw accept rate with a trivial client (httpx over TLS from threads, no SDK, no
Relais, no reports asked), and the ratio Relais / that.
"""

from __future__ import annotations

import argparse
import os
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import sqlalchemy as sa

from bench import fake_provider, floor
from bench.cpu import CpuMeter
from bench.stack import SIGNATURE_SECRET, Stack, add_common_arguments, load_average, production_stack

TEMPLATE = "Maison Lumière: -20% ce week-end sur les lampes, code SOLDES20"


def raw_accept_rate(host: str, ca_bundle: str, *, seconds: float, threads: int = 8) -> float:
    """Requests/s the fake provider accepts from plain httpx clients in threads (the path's ceiling)."""
    done = Counter[int]()
    stop = time.perf_counter() + seconds

    def hammer(index: int) -> None:
        with httpx.Client(base_url=f"https://{host}", verify=ssl.create_default_context(cafile=ca_bundle)) as client:
            n = 0
            while time.perf_counter() < stop:
                form = {"api_key": "raw", "api_secret": "raw", "from": "38100", "to": "33600000000", "text": TEMPLATE}
                client.post("/sms/json", data={**form, "client-ref": f"raw-{index}-{n}"}).raise_for_status()
                n += 1
            done[index] = n

    started = time.perf_counter()
    pool = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done.values()) / (time.perf_counter() - started)


def _csv(recipients: int) -> bytes:
    lines = ["phone,first_name,consent"]
    lines += [f"+336{10000000 + i},Client{i},yes" for i in range(recipients)]
    return ("\n".join(lines) + "\n").encode()


def _wait(what: str, check: Callable[[], bool], stack: Stack, *, seconds: float) -> None:
    deadline = time.time() + seconds
    while not check():
        dead = stack.alive()
        if dead:
            raise SystemExit(f"{', '.join(dead)} exited while waiting for {what}")
        if time.time() > deadline:
            raise SystemExit(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.5)


def set_up(stack: Stack, *, recipients: int, senders: int, sender_rate: float) -> int:
    """Senders, account rate, contacts, template and campaign through the API; returns the campaign id."""
    api = stack.client
    for n in range(senders):
        api.post("/api/v1/senders", json={"kind": "short_code", "address": f"{38100 + n}", "country": "FR",
                                          "throughput": sender_rate}).raise_for_status()  # fmt: skip
    api.put("/api/v1/provider-accounts/default", json={"throughput": senders * sender_rate}).raise_for_status()
    job = api.post(
        "/api/v1/contacts/import", params={"tag": "bench"}, content=_csv(recipients),
        headers={"content-type": "text/csv"},
    ).raise_for_status().json()  # fmt: skip

    def imported() -> bool:
        state = api.get(f"/api/v1/contacts/imports/{job['id']}").raise_for_status().json()
        if state["status"] in ("failed", "cancelled"):
            raise SystemExit(f"contact import {state['status']}: {state['error']}")
        return bool(state["status"] == "succeeded")

    _wait("the contact import", imported, stack, seconds=max(300, recipients / 50))
    template = api.post("/api/v1/templates", json={"name": "bench", "language": "fr", "body": TEMPLATE})
    campaign = api.post(
        "/api/v1/campaigns",
        json={
            "name": "bench",
            "template_id": template.raise_for_status().json()["id"],
            "segment": {"all": [{"field": "tag", "op": "has", "value": "bench"}]},
            "timezone": "Europe/Paris",
            "quiet_start": "23:59",
            "quiet_end": "00:00",
            "respect_country_rules": False,
        },
    )
    return int(campaign.raise_for_status().json()["id"])


def _statuses(engine: sa.Engine, campaign_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, count(*) FROM messages WHERE campaign_id = :c GROUP BY status"), {"c": campaign_id}
        )
        return {str(status): int(n) for status, n in rows}


def measure(
    stack: Stack, campaign_id: int, recipients: int, *, timeout: float, meter: CpuMeter
) -> dict[str, float | int | str]:
    """Schedule now and wait for every report; returns the figures."""
    engine = sa.create_engine(stack.database_url)
    meter.start()
    started_wall = time.time()
    stack.client.post(f"/api/v1/campaigns/{campaign_id}/schedule", json={}).raise_for_status()
    last_progress, last_seen = time.time(), (-1, -1)
    statuses: dict[str, int] = {}
    while True:
        # the database is counted only once the provider has seen every message: the bench's own
        # queries would otherwise load the database it measures (a GROUP BY over the campaign's rows
        # twice a second, counted as PostgreSQL's time)
        called = int(stack.redis.hlen(fake_provider.CALLS_KEY))
        if called >= recipients:
            statuses = _statuses(engine, campaign_id)
        delivered = statuses.get("delivered", 0)
        if delivered >= recipients:
            ended = time.time()
            break
        if (called, delivered) != last_seen:
            last_progress, last_seen = time.time(), (called, delivered)
        elif time.time() - last_progress > timeout:
            statuses = _statuses(engine, campaign_id)
            print(f"no progress for {timeout:.0f} s: {called} messages at the provider, statuses {statuses}")
            ended = last_progress
            break
        if stack.alive():
            raise SystemExit(f"{', '.join(stack.alive())} exited during the measurement")
        time.sleep(0.25 if called >= recipients else 0.5)
    meter.stop()
    with engine.connect() as conn:
        rows = conn.scalars(sa.text("SELECT id FROM messages WHERE campaign_id = :c"), {"c": campaign_id})
        ids = [int(i) for i in rows]
    engine.dispose()
    calls = fake_provider.calls(stack.redis)
    last_call = max(fake_provider.arrivals(stack.redis).values(), default=started_wall)
    refs = [calls.get(f"relais-{i}", 0) for i in ids]
    return {
        "rows": len(ids),
        "delivered": statuses.get("delivered", 0),
        "statuses": str(statuses),
        "seconds": ended - started_wall,
        "to_provider_seconds": last_call - started_wall,
        "lost": recipients - sum(1 for n in refs if n > 0),
        "duplicated": sum(n - 1 for n in refs if n > 1),
    }


def _floor_lines(floored: floor.Floor, workers: int, rate: float, meter: CpuMeter, delivered: int) -> str:
    cores = os.cpu_count() or 1
    parts = ", ".join(f"{name} {1000 * cpu / max(floored.messages, 1):.2f}"
                      for name, cpu in sorted(floored.cpu.items(), key=lambda item: -item[1]))  # fmt: skip
    capacity = floored.capacity(cores)
    relais_ms = 1000 * sum(meter.spent().values()) / max(delivered, 1)
    return "\n".join([
        f"floor               no Relais: Vonage SDK ({workers} process × {floor.send_threads()} threads) → fake → "
        f"signed report → bare receiver (bench/floor.py)",
        f"                    {floored.messages:,} sent, {floored.reports:,} reports checked "
        f"({floored.bad_signatures} bad) in {floored.seconds:.1f} s = {floored.messages / floored.seconds:,.0f} msg/s",
        f"floor CPU           {floored.ms_per_message:.2f} ms/msg ({parts})",
        f"floor capacity      {cores} cores × 1000 / {floored.ms_per_message:.2f} ms = {capacity:,.0f} msg/s; "
        f"Relais {rate:,.0f} msg/s = {rate / capacity:.2f} of it"
        + (f"; Relais's path {relais_ms:.2f} ms/msg = {relais_ms / floored.ms_per_message:.1f} × the floor"
           if floored.ms_per_message else ""),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--senders", type=int, default=12, help="French short codes")
    parser.add_argument("--sender-rate", type=float, default=100.0, help="msg/s per short code")
    parser.add_argument("--raw-seconds", type=float, default=10.0, help="length of the raw provider measurement")
    parser.add_argument("--floor-seconds", type=float, default=10.0, help="sending time of the floor (bench/floor.py)")
    parser.add_argument("--stall-timeout", type=float, default=120.0, help="give up after this long without a report")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    with production_stack(
        database_url=args.database_url, database_prefix=args.database_prefix, redis_url=args.redis_url,
        workers=args.workers, provider_processes=args.provider_processes,
    ) as stack:  # fmt: skip
        t0 = time.perf_counter()
        campaign_id = set_up(stack, recipients=args.recipients, senders=args.senders, sender_rate=args.sender_rate)
        print(f"set-up (not timed)  {args.recipients} contacts imported through the API, campaign {campaign_id}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
        host = stack.env["RELAIS_VONAGE_API_HOST"]
        limit = raw_accept_rate(host, stack.env["REQUESTS_CA_BUNDLE"], seconds=args.raw_seconds)
        fake = stack.processes["fake provider"].pid
        floored = floor.measure(env=stack.env, provider_host=host, provider_session=fake, senders=args.workers,
                                seconds=args.floor_seconds, secret=SIGNATURE_SECRET)  # fmt: skip
        stack.redis.delete(fake_provider.CALLS_KEY, fake_provider.ARRIVALS_KEY)
        load_before = load_average()
        meter = stack.cpu_meter()
        figures = measure(stack, campaign_id, args.recipients, timeout=args.stall_timeout, meter=meter)
    rate = float(figures["delivered"]) / float(figures["seconds"])
    print(f"layout              PostgreSQL + Redis, relais run --no-workers, {args.workers} relais worker, "
          f"fake Vonage ({args.provider_processes} process) with delivery reports")  # fmt: skip
    print(f"rates (stated)      {args.senders} short codes × {args.sender_rate:g} msg/s, "
          f"account {args.senders * args.sender_rate:g} msg/s")  # fmt: skip
    print(f"campaign            {figures['rows']} rows, {figures['delivered']} delivered in {figures['seconds']:.1f} s "
          f"(schedule call → last report stored)")  # fmt: skip
    to_provider = float(figures["to_provider_seconds"])
    handed = f"{float(figures['rows']) / to_provider:,.0f} msg/s" if to_provider > 0 else "n/a"
    print(f"end to end          {rate:,.0f} msg/s; the last message reached the provider after {to_provider:.1f} s "
          f"({handed} handed to the provider)")  # fmt: skip
    print(f"provider            lost {figures['lost']}, duplicated {figures['duplicated']}; "
          f"statuses {figures['statuses']}")  # fmt: skip
    print(f"path limit          fake provider raw accept {limit:,.0f} req/s (httpx, 8 threads, no SDK, no Relais); "
          f"Relais / limit = {rate / limit:.2f}")  # fmt: skip
    print("processor time      over the timed window, per component (bench/cpu.py):")
    for line in meter.report(int(figures["delivered"]), float(figures["seconds"])):
        print(line)
    print(_floor_lines(floored, args.workers, rate, meter, int(figures["delivered"])))
    print(f"machine             before: {load_before}; after: {load_average()}")
    failed = figures["lost"] or figures["duplicated"] or figures["delivered"] != args.recipients
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
