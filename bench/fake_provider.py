"""A fast fake Vonage SMS API for benchmarks: a bare asyncio HTTP/1.1 server over TLS, counting in Redis.

It stands in for Vonage, which in production runs on other machines, so what it costs the bench's
machine is an artefact of the layout: it is written to cost about what a real provider's front end
would (``bench.campaign_e2e`` prints its processor time per message). :func:`start` runs it as
``python -m bench.fake_provider`` (``--processes`` of them, sharing one listening socket): an
:class:`asyncio.Protocol` per connection (uvloop when installed) parsing requests with ``httptools``,
no web framework, no per-request task. It answers ``POST /sms/json`` like Vonage (one part per
message: the JSON ``channels.vonage`` and the SDK parse) and counts, group-committed: the calls of
the last few milliseconds (:data:`FLUSH_SECONDS`) go to Redis in one ``EVALSHA`` that ``HINCRBY``s
``relais:bench:calls`` per ``client-ref`` (duplicates are refs counted more than once) and
``HSETNX``es ``relais:bench:arrivals`` with each call's arrival time per recipient number (the
inbound benchmark's reply latency; the time is taken when the request arrives, not when it is
written). A Redis failure keeps the batch for the next flush, said on stderr.

When the request asks for a report (``status-report-req`` with a ``callback`` URL, as Relais sends
when ``RELAIS_PUBLIC_URL`` is set), the fake posts a signed SMS API delivery report (``delivered``,
signed with ``BENCH_PROVIDER_SIGNATURE_SECRET``) to that URL once the call's count is in Redis (so
a bench that saw every report also sees every call), one request at a time on each of a few
keep-alive connections (:class:`ReportPoster`) — the load Vonage's reports put on the API. A report
the server refuses (not 200, or the connection failed) is tried again at once, then after 1, 2, 4 …
32 s, as Vonage retries a callback; only then is it dropped, said on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_plus, unquote_plus, urlsplit

import httptools
import redis
import trustme

CALLS_KEY = "relais:bench:calls"
ARRIVALS_KEY = "relais:bench:arrivals"
REPORTERS = 8  # keep-alive connections per process posting delivery reports
REPORT_RETRY_ROUNDS = 6  # a refused report is put back after 1, 2, 4 ... 32 s, then dropped
FLUSH_SECONDS = 0.005  # calls are counted in Redis (and their reports posted) in batches this far apart
_COUNT = """
for i = 1, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
  redis.call('HSETNX', KEYS[2], ARGV[i + 1], ARGV[i + 2])
end
return #ARGV / 3
"""
_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus leaves as it is

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """A request's whole body from an ASGI ``receive`` (the floor's bare report receiver reads forms)."""
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


def parse_form(body: bytes) -> dict[str, str]:
    """A form body as ``dict(parse_qsl(body.decode()))`` gives it; only fields holding ``%`` or ``+`` are decoded."""
    form: dict[str, str] = {}
    for pair in body.decode().split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if not value:
            continue  # parse_qsl drops blank values
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        form[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return form


def _quote(value: str) -> str:
    return value if _SAFE.fullmatch(value) else quote_plus(value)


def delivery_report(
    form: dict[str, str], message_id: str, *, api_key: str, secret: str, now: datetime | None = None
) -> bytes:
    """The signed SMS API delivery report Vonage posts for an accepted message, as a form body: the
    fields ``urlencode`` writes, ``sig`` last, signed as ``bench.loadgen.sign_sms`` signs."""
    now = now or datetime.now(UTC)
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
    signed = "".join(f"&{key}={params[key].replace('&', '_').replace('=', '_')}" for key in sorted(params))
    params["sig"] = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    return "&".join(f"{_quote(key)}={_quote(value)}" for key, value in params.items()).encode()


@dataclass(slots=True)
class _Report:
    host: str
    port: int
    head: bytes  # request line and headers, up to the blank line
    body: bytes
    url: str
    rounds: int = 0  # retry rounds done (1, 2, 4 ... s later)
    attempts: int = 0  # attempts in this round


class _ReportConnection(asyncio.Protocol):
    """One keep-alive connection of :class:`ReportPoster`: one report in flight at a time."""

    def __init__(self, poster: ReportPoster, key: tuple[str, int]) -> None:
        self.poster, self.key = poster, key
        self.transport: asyncio.Transport | None = None
        self.current: _Report | None = None
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def send(self, report: _Report) -> None:
        assert self.transport is not None
        self.current = report
        self.transport.write(report.head + report.body)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_complete(self) -> None:
        report, self.current = self.current, None
        keep = self.parser.should_keep_alive()
        if not keep and self.transport is not None:
            self.transport.close()
        if report is not None:
            self.poster._answered(self, report, self.parser.get_status_code(), keep)

    def connection_lost(self, exc: Exception | None) -> None:
        report, self.current, self.transport = self.current, None, None
        self.poster._lost(self, report)


class ReportPoster:
    """Posts form bodies to callback URLs over at most ``connections`` keep-alive connections per
    host, one request in flight on each, in order of arrival. A post answered other than 200, or
    whose connection failed, is sent again at once, then ``retry_delay(round)`` s later (1, 2, 4 …
    by default) for ``retry_rounds`` rounds; after that it is dropped, said on stderr."""

    def __init__(
        self,
        *,
        connections: int = REPORTERS,
        retry_rounds: int = REPORT_RETRY_ROUNDS,
        retry_delay: Callable[[int], float] = lambda rounds: float(2**rounds),
    ) -> None:
        self.connections, self.retry_rounds, self.retry_delay = connections, retry_rounds, retry_delay
        self._queue: deque[_Report] = deque()
        self._idle: dict[tuple[str, int], list[_ReportConnection]] = {}
        self._open: dict[tuple[str, int], int] = {}  # connected or connecting
        self._targets: dict[str, tuple[str, int, bytes]] = {}
        self.dropped = 0

    def post(self, url: str, body: bytes) -> None:
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            start = (
                f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
                f"Host: {parts.netloc}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            )
            target = self._targets[url] = (host, port, start.encode())
        host, port, head = target
        self._queue.append(_Report(host, port, head + b"%d\r\n\r\n" % len(body), body, url))
        self._pump()

    def _pump(self) -> None:
        while self._queue:
            report = self._queue[0]
            key = (report.host, report.port)
            idle = self._idle.get(key)
            if idle:
                self._queue.popleft()
                idle.pop().send(report)
            elif self._open.get(key, 0) < self.connections:
                self._open[key] = self._open.get(key, 0) + 1
                asyncio.get_running_loop().create_task(self._connect(key))
                return
            else:
                return

    async def _connect(self, key: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: _ReportConnection(self, key), *key)
        except OSError:
            self._open[key] -= 1
            for report in self._queue:
                if (report.host, report.port) == key:
                    self._queue.remove(report)
                    self._failed(report)
                    break
            self._pump()
            return
        self._idle.setdefault(key, []).append(connection)
        self._pump()

    def _answered(self, connection: _ReportConnection, report: _Report, status: int, keep: bool) -> None:
        if keep:
            self._idle.setdefault(connection.key, []).append(connection)
        if status != 200:
            self._failed(report)
        self._pump()

    def _lost(self, connection: _ReportConnection, report: _Report | None) -> None:
        self._open[connection.key] -= 1
        idle = self._idle.get(connection.key, [])
        if connection in idle:
            idle.remove(connection)
        if report is not None:
            self._failed(report)
        if self._queue:
            self._pump()

    def _failed(self, report: _Report) -> None:
        report.attempts += 1
        if report.attempts < 2:  # at once, once (a keep-alive connection the server had closed)
            self._queue.appendleft(report)
        elif report.rounds < self.retry_rounds:
            report.attempts, delay = 0, self.retry_delay(report.rounds)
            report.rounds += 1
            asyncio.get_running_loop().call_later(delay, self._retry, report)
        else:
            self.dropped += 1
            print(f"fake provider: a delivery report to {report.url} dropped after {report.rounds} retries",
                  file=sys.stderr)  # fmt: skip

    def _retry(self, report: _Report) -> None:
        self._queue.append(report)
        self._pump()


class Counter:
    """Calls waiting to be counted in Redis, and their reports, flushed together every :data:`FLUSH_SECONDS`."""

    def __init__(self, client: redis.Redis | None, poster: ReportPoster, secret: str) -> None:
        self.client, self.poster, self.secret = client, poster, secret
        self._script = client.register_script(_COUNT) if client is not None else None
        self._calls: list[str] = []  # ref, number, arrival time, ...
        self._reports: list[tuple[str, dict[str, str], str]] = []  # callback, form, message id
        self._scheduled = False

    def add(self, ref: str, to: str, arrived: float, report: tuple[str, dict[str, str], str] | None) -> None:
        self._calls += (ref, to, repr(arrived))
        if report is not None:
            self._reports.append(report)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._script is not None and self._calls:
            try:  # blocking, on the loop: one loopback round trip per batch costs less than a thread hand-off
                self._script(keys=[CALLS_KEY, ARRIVALS_KEY], args=self._calls)
            except redis.RedisError as exc:
                print(f"fake provider: counting {len(self._calls) // 3} calls failed ({exc}); trying again",
                      file=sys.stderr)  # fmt: skip
                self._scheduled = True
                asyncio.get_running_loop().call_later(1.0, self.flush)
                return
        self._calls = []
        reports, self._reports = self._reports, []
        now = datetime.now(UTC)
        for callback, form, message_id in reports:
            body = delivery_report(form, message_id, api_key=form.get("api_key", ""), secret=self.secret, now=now)
            self.poster.post(callback, body)


class _Provider(asyncio.Protocol):
    """One client connection: each complete request answered at once, in order (pipelining included)."""

    ids = 0
    prefix = ""  # per process (serve): message ids stay unique across forked processes

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    def on_message_begin(self) -> None:
        self.body = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        arrived = time.time()
        form = parse_form(b"".join(self.body))
        ref, to = form.get("client-ref", ""), form.get("to", "")
        _Provider.ids += 1
        message_id = f"{self.prefix}{_Provider.ids:08x}"
        payload = json.dumps(
            {
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
        ).encode()
        keep = self.parser.should_keep_alive()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
            % (len(payload), b"" if keep else b"connection: close\r\n", payload)
        )
        if not keep:
            self.transport.close()
        callback = form.get("callback", "")
        wants = callback and form.get("status-report-req") in ("1", "true", "True")
        self.counter.add(ref, to, arrived, (callback, form, message_id) if wants else None)


async def serve(sock: socket.socket, context: ssl.SSLContext | None, redis_url: str, secret: str) -> None:
    """Answer on ``sock`` until SIGTERM or SIGINT (a flush of what is waiting first)."""
    loop = asyncio.get_running_loop()
    _Provider.prefix = os.urandom(4).hex()
    client = redis.Redis.from_url(redis_url) if redis_url else None
    counter = Counter(client, ReportPoster(), secret)
    server = await loop.create_server(lambda: _Provider(counter), sock=sock, ssl=context, backlog=1024)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: None if stop.done() else stop.set_result(None))
    await stop
    server.close()
    counter.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="the benchmarks' fake Vonage SMS API (run by bench.fake_provider.start)"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certfile", help="PEM with the key and certificate chain (TLS); plain HTTP without")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    sock = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    children: list[int] = []
    for _ in range(args.processes - 1):  # the children share the listening socket (and the process group)
        child = os.fork()
        if child == 0:
            children = []
            break
        children.append(child)
    context = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile)
    coroutine = serve(sock, context, os.environ.get("BENCH_PROVIDER_REDIS", ""),
                      os.environ.get("BENCH_PROVIDER_SIGNATURE_SECRET", ""))  # fmt: skip
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)
    for child in children:  # stopped with the first process, whoever stops it
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    return 0


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
        [sys.executable, "-m", "bench.fake_provider", "--port", str(port), "--processes", str(processes),
         "--certfile", str(directory / "provider.pem")],
        env={**os.environ, "BENCH_PROVIDER_REDIS": redis_url, "BENCH_PROVIDER_SIGNATURE_SECRET": signature_secret},
        cwd=Path(__file__).resolve().parents[1],
        start_new_session=True,  # its own process group; its forked processes also stop with it
    )  # fmt: skip
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


if __name__ == "__main__":
    raise SystemExit(main())
