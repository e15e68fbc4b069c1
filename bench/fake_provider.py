"""A fast fake Vonage SMS API for benchmarks: uvicorn over TLS, its own processes, counting in Redis.

Run by :func:`start` as ``uvicorn bench.fake_provider:app`` (``--processes`` of them), so the fake
is not what limits a benchmark; ``bench.campaign_e2e`` measures its raw accept rate in the same run.
It answers ``POST /sms/json`` like Vonage (one part per message) and, in one Redis round trip,
``HINCRBY``s ``relais:bench:calls`` per ``client-ref`` (duplicates are refs counted more than once)
and ``HSETNX``es ``relais:bench:arrivals`` with the first arrival time per recipient number (the
inbound benchmark's reply latency).

When the request asks for a report (``status-report-req`` with a ``callback`` URL, as Relais sends
when ``RELAIS_PUBLIC_URL`` is set), the fake posts a signed SMS API delivery report (``delivered``,
signed with ``BENCH_PROVIDER_SIGNATURE_SECRET``) to that URL right after answering, over a few
keep-alive connections per process — the load Vonage's reports put on the API.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import trustme

from bench.loadgen import post, sign_sms

CALLS_KEY = "relais:bench:calls"
ARRIVALS_KEY = "relais:bench:arrivals"
REPORTERS = 8  # keep-alive connections per process posting delivery reports
REPORT_RETRY_ROUNDS = 6  # a refused report is put back after 1, 2, 4 ... 32 s, then dropped

_redis = redis.Redis.from_url(os.environ["BENCH_PROVIDER_REDIS"]) if os.environ.get("BENCH_PROVIDER_REDIS") else None
_secret = os.environ.get("BENCH_PROVIDER_SIGNATURE_SECRET", "")
_reports: asyncio.Queue[tuple[str, bytes, int]] | None = None

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def delivery_report(form: dict[str, str], message_id: str, *, api_key: str, secret: str) -> bytes:
    """The signed SMS API delivery report Vonage posts for an accepted message, as a form body."""
    now = datetime.now(UTC)
    params = {
        "msisdn": form.get("to", ""),
        "to": form.get("from", ""),
        "network-code": "20810",
        "messageId": message_id,
        "price": "0.03330000",
        "status": "delivered",
        "scts": now.strftime("%y%m%d%H%M"),
        "err-code": "0",
        "api-key": api_key,
        "client-ref": form.get("client-ref", ""),
        "message-timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
        "timestamp": str(int(now.timestamp())),
    }
    return urlencode(sign_sms(params, secret)).encode()


async def _reporter(queue: asyncio.Queue[tuple[str, bytes, int]]) -> None:
    """Post queued reports over one keep-alive connection. A refused report is tried again at once (a
    closed keep-alive connection), then put back on the queue after 1, 2, 4 ... 32 s, as Vonage retries a
    callback the server did not accept; only after that is it dropped, said on stderr (the bench would
    otherwise stall waiting for it with no reason given)."""
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while True:
        url, body, rounds = await queue.get()
        parts = urlsplit(url)
        for _attempt in range(2):
            try:
                if connection is None:
                    connection = await asyncio.open_connection(parts.hostname, parts.port or 80)
                if await post(*connection, parts.path, body) == 200:
                    break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                connection = None
        else:
            if rounds < REPORT_RETRY_ROUNDS:
                asyncio.get_running_loop().call_later(2**rounds, queue.put_nowait, (url, body, rounds + 1))
            else:
                print(f"fake provider: a delivery report to {url} dropped after {rounds} retries", file=sys.stderr)


async def _lifespan(receive: Receive, send: Send) -> None:
    global _reports
    tasks: list[asyncio.Task[None]] = []
    while (await receive())["type"] != "lifespan.shutdown":
        _reports = asyncio.Queue()
        tasks = [asyncio.create_task(_reporter(_reports)) for _ in range(REPORTERS)]
        await send({"type": "lifespan.startup.complete"})
    for task in tasks:
        task.cancel()
    await send({"type": "lifespan.shutdown.complete"})


async def read_body(receive: Receive) -> bytes:
    """A request's whole body from an ASGI ``receive`` (both bare apps of the benches read forms)."""
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    body = await read_body(receive)
    form = dict(parse_qsl(body.decode()))
    ref, to = form.get("client-ref", ""), form.get("to", "")
    if _redis is not None:
        pipe = _redis.pipeline(transaction=False)
        pipe.hincrby(CALLS_KEY, ref, 1)
        pipe.hsetnx(ARRIVALS_KEY, to, repr(time.time()))
        pipe.execute()
    message_id = uuid.uuid4().hex[:16]
    answer = {
        "message-count": "1",
        "messages": [
            {
                "to": to,
                "message-id": message_id,
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
    callback = form.get("callback", "")
    if callback and _reports is not None and form.get("status-report-req") in ("1", "true", "True"):
        report = delivery_report(form, message_id, api_key=form.get("api_key", ""), secret=_secret)
        _reports.put_nowait((callback, report, 0))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, seconds: float = 20) -> None:
    """Block until something listens on ``port``; ``RuntimeError`` after ``seconds``."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def start(
    *, directory: Path, redis_url: str, processes: int = 1, signature_secret: str = ""
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start the fake; returns (process, ``host:port``, CA bundle path to trust)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "provider.pem"))
    ca.cert_pem.write_to_path(str(directory / "provider-ca.pem"))
    port = free_port()
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
        env={**os.environ, "BENCH_PROVIDER_REDIS": redis_url, "BENCH_PROVIDER_SIGNATURE_SECRET": signature_secret},
        cwd=Path(__file__).resolve().parents[1],
        start_new_session=True,  # its own process group: stopped with its uvicorn workers
    )
    wait_for_port(port)
    return process, f"127.0.0.1:{port}", directory / "provider-ca.pem"


def calls(client: redis.Redis) -> dict[str, int]:
    """Provider calls per client-ref so far."""
    raw: dict[bytes, bytes] = client.hgetall(CALLS_KEY)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in raw.items()}


def arrivals(client: redis.Redis) -> dict[str, float]:
    """First arrival time (epoch seconds) per recipient number, digits as Vonage gets them."""
    raw: dict[bytes, bytes] = client.hgetall(ARRIVALS_KEY)  # type: ignore[assignment]
    return {k.decode(): float(v) for k, v in raw.items()}
