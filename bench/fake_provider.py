"""A fast fake Vonage SMS API for benchmarks: uvicorn over TLS, counting calls per client-ref in Redis.

Run by :func:`start` as ``uvicorn bench.fake_provider:app`` with several processes, so the fake
provider is not what limits a dispatch benchmark. It answers ``POST /sms/json`` like Vonage (one
part per message) and ``HINCRBY``s ``relais:bench:calls`` per ``client-ref``: duplicates are refs
counted more than once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import redis
import trustme

CALLS_KEY = "relais:bench:calls"
_redis = redis.Redis.from_url(os.environ["BENCH_PROVIDER_REDIS"]) if os.environ.get("BENCH_PROVIDER_REDIS") else None

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    form = dict(parse_qsl(body.decode()))
    ref = form.get("client-ref", "")
    if _redis is not None:
        _redis.hincrby(CALLS_KEY, ref, 1)
    answer = {
        "message-count": "1",
        "messages": [
            {
                "to": form.get("to", ""),
                "message-id": uuid.uuid4().hex[:16],
                "status": "0",
                "message-price": "0.03330000",
                "network": "20810",
                "client-ref": ref,
            }
        ],
    }
    payload = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(*, directory: Path, redis_url: str, processes: int = 1) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start the fake; returns (process, ``host:port``, CA bundle path to trust)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "provider.pem"))
    ca.cert_pem.write_to_path(str(directory / "provider-ca.pem"))
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.fake_provider:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--ssl-certfile",
            str(directory / "provider.pem"),
            "--ssl-keyfile",
            str(directory / "provider.pem"),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, "BENCH_PROVIDER_REDIS": redis_url},
        cwd=Path(__file__).resolve().parents[1],
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return process, f"127.0.0.1:{port}", directory / "provider-ca.pem"


def calls(client: redis.Redis) -> dict[str, int]:
    """Provider calls per client-ref so far."""
    raw: dict[bytes, bytes] = client.hgetall(CALLS_KEY)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in raw.items()}
