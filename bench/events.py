"""Transactional events: from ``POST /api/v1/events`` to the provider call, p50/p95.

Starts ``relais run`` (embedded defaults, simulator channel: its ``send`` is the provider call)
on a free port with a fresh data directory, maps ``order.created`` to a template, posts events at
a steady rate, then reads each message's ``sent_at`` (set when the provider accepted it) and
reports the time from the moment the event was posted. Target: p95 ≤ 1 s.

    python -m bench.events [--events 300] [--rate 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

RELAIS = str(Path(sys.executable).parent / "relais")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="relais-bench-events-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update({"RELAIS_DATA_DIR": str(data_dir), "RELAIS_LOG_LEVEL": "WARNING"})
    subprocess.run([RELAIS, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [RELAIS, "apikey", "create", "--role", "marketer", "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [RELAIS, "run", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        for _ in range(300):
            try:
                client.get("/healthz")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        template = (
            client.post(
                "/api/v1/templates",
                json={
                    "name": "order",
                    "kind": "transactional",
                    "language": "en",
                    "body": "Order {{ event.order.number }} confirmed: {{ event.order.total }} EUR.",
                    "event_fields": ["order.number", "order.total"],
                },
            )
            .raise_for_status()
            .json()["id"]
        )
        client.put(
            "/api/v1/events/templates", json={"event_type": "order.created", "language": "*", "template_id": template}
        ).raise_for_status()
        time.sleep(5)  # let the agent warm-up thread finish before measuring
        posted: dict[int, float] = {}
        start = time.time()
        for n in range(args.events):
            time.sleep(max(0.0, start + n / args.rate - time.time()))
            sent_at = time.time()
            answer = (
                client.post(
                    "/api/v1/events",
                    json={
                        "type": "order.created",
                        "contact": {"phone": f"+336{20000000 + n}", "language": "en"},
                        "data": {"order": {"number": f"#{n}", "total": "19.90"}},
                    },
                )
                .raise_for_status()
                .json()
            )
            posted[int(answer["message_id"])] = sent_at
        latencies: list[float] = []
        deadline = time.time() + 60
        pending = dict(posted)
        while pending and time.time() < deadline:
            for message_id, at in list(pending.items()):
                message = client.get(f"/api/v1/messages/{message_id}").json()
                if message.get("sent_at"):
                    latencies.append(datetime.fromisoformat(message["sent_at"]).timestamp() - at)
                    del pending[message_id]
            time.sleep(0.5)
        print(f"events              {args.events} at {args.rate:g}/s, not sent within 60 s: {len(pending)}")
        print(
            f"event -> provider   p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {_percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
