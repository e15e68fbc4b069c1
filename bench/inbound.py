"""Inbound webhooks at a fixed rate: p50/p95 latency to the 200 and rows persisted (zero loss).

    python -m bench.inbound --rate 500 --seconds 20

Starts the real app (``uvicorn``, Vonage channel with a signature secret) on a fresh SQLite file,
then sends signed Vonage SMS-API inbound webhooks open-loop (request i is due at ``i/rate`` s
whatever the previous ones do), each with a distinct message id, and counts the stored events.
The client is raw asyncio HTTP/1.1 over keep-alive connections: httpx's pool costs more CPU than
the server at this rate.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

SECRET = "bench-signature-secret"


def signed(index: int) -> dict[str, str]:
    params = {
        "msisdn": f"336{20000000 + index % 5000}",
        "to": "33612000000",
        "messageId": f"bench-{index:08d}",
        "text": f"Hello, where is my order {index}?",
        "type": "text",
        "timestamp": str(int(time.time())),
    }
    digest = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    for key in sorted(params):
        digest.update(f"&{key}={params[key].replace('&', '_').replace('=', '_')}".encode())
    return {**params, "sig": digest.hexdigest()}


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes) -> int:
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status


async def fire(port: int, path: str, *, rate: float, seconds: float, connections: int) -> tuple[list[float], int]:
    """Open-loop load over ``connections`` keep-alive connections (raw HTTP/1.1, a cheap client).

    Latency runs from the request's scheduled time, so time spent waiting for a free connection
    counts against the server rather than hiding a backlog.
    """
    total = int(rate * seconds)
    bodies = [urlencode(signed(i)).encode() for i in range(total)]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    t0 = time.perf_counter() + 0.5

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (index := await queue.get()) >= 0:
            try:
                status = await _post(reader, writer, path, bodies[index])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - (t0 + index / rate))
            errors += status != 200
        writer.close()

    async def schedule() -> None:
        for index in range(total):
            await asyncio.sleep(max(0.0, t0 + index / rate - time.perf_counter()))
            queue.put_nowait(index)
        for _ in range(connections):
            queue.put_nowait(-1)

    await asyncio.gather(schedule(), *(connection() for _ in range(connections)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="relais-inbound-"))
    os.environ.update(
        {
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_DATABASE_URL": args.database_url or f"sqlite:///{data_dir / 'relais.db'}",
            "RELAIS_LOG_LEVEL": "WARNING",
            "RELAIS_CHANNEL": "vonage",
            "RELAIS_VONAGE_API_KEY": "bench",
            "RELAIS_VONAGE_API_SECRET": "bench-secret",
            "RELAIS_VONAGE_SIGNATURE_SECRET": SECRET,
        }
    )
    os.environ.setdefault("RELAIS_ENCRYPTION_KEYS", "b1:" + "a" * 43 + "=")
    os.environ.setdefault("RELAIS_BLIND_INDEX_KEY", "b" * 43 + "=")
    from core import db
    from core.redis import embedded_server
    from core.runtime import bootstrap
    from core.schema import load_models

    os.environ["RELAIS_REDIS_URL"] = embedded_server(data_dir)
    bootstrap()
    load_models().create_all(db.engine())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(args.server_workers),
        ],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        deadline = time.time() + 180
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise SystemExit("the app did not start within 180 s") from None
                time.sleep(0.2)
        latencies, errors = asyncio.run(
            fire(port, "/webhooks/vonage/inbound", rate=args.rate, seconds=args.seconds, connections=args.connections)
        )
    finally:
        server.terminate()
        server.wait()
    from sqlalchemy import func, select

    from conversations.models import InboundEvent

    with db.session_scope() as session:
        stored = int(session.scalar(select(func.count(InboundEvent.id))) or 0)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    sent = int(args.rate * args.seconds)
    print(f"requests            {sent} at {args.rate:.0f} req/s for {args.seconds:.0f} s, failed or non-200: {errors}")
    print(f"latency to 200      p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
    print(f"persisted rows      {stored} (lost {sent - stored})")


if __name__ == "__main__":
    main()
