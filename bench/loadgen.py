"""What the end-to-end benchmarks share on the wire: Vonage SMS API signatures and a cheap HTTP/1.1 client.

The client is raw asyncio over keep-alive connections, because httpx's pool costs more CPU than
the server it measures at a few hundred requests per second on this machine; the benchmarks
would otherwise measure their own load generator.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections.abc import Callable, Mapping


def sign_sms(params: Mapping[str, str], secret: str) -> dict[str, str]:
    """``params`` plus ``sig``: Vonage's SMS API signature (HMAC-SHA256 over the sorted ``&key=value``
    pairs, ``&`` and ``=`` in values replaced by ``_``), as Vonage signs inbound texts and reports."""
    digest = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    for key in sorted(params):
        digest.update(f"&{key}={params[key].replace('&', '_').replace('=', '_')}".encode())
    return {**params, "sig": digest.hexdigest()}


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes) -> int:
    """One form POST on an open keep-alive connection; returns the status (the body is read and dropped)."""
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


async def open_loop(
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    rate: float,
    connections: int,
    on_sent: Callable[[int, float], None],
    every: float = 0.0,
) -> tuple[list[float], int]:
    """POST ``bodies`` open loop: body i is due at ``i / rate`` s whatever the earlier ones do; with ``every``
    (seconds), the bodies due by each multiple of it leave together then, as the fake provider posts the
    reports of each of its 5 ms batches (latency still runs from the body's own due time).

    ``on_sent(i, t)`` gets each body's scheduled wall-clock time. Latency runs from that time, so
    waiting for a free connection counts against the server rather than hiding a backlog. A body
    whose connection the server had closed is sent once more on a new one (a signed webhook is
    deduplicated by its provider id, so a repeat is harmless).
    Returns (latencies in seconds, failed or non-200 count).
    """
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    t0 = time.perf_counter() + 0.2
    wall0 = time.time() + (t0 - time.perf_counter())

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (index := await queue.get()) >= 0:
            status = 0
            for _attempt in range(2):  # the server closes a keep-alive connection idle for 5 s: reopen, send again
                try:
                    status = await post(reader, writer, path, bodies[index])
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if status:
                latencies.append(time.perf_counter() - (t0 + index / rate))
            errors += status != 200
        writer.close()

    async def schedule() -> None:
        for index in range(len(bodies)):
            if every:  # no yield between the bodies of one batch: they are written in one go
                release = t0 + math.ceil(index / rate / every - 1e-9) * every
                if release > time.perf_counter():
                    await asyncio.sleep(release - time.perf_counter())
            else:
                await asyncio.sleep(max(0.0, t0 + index / rate - time.perf_counter()))
            on_sent(index, wall0 + index / rate)
            queue.put_nowait(index)
        for _ in range(connections):
            queue.put_nowait(-1)

    await asyncio.gather(schedule(), *(connection() for _ in range(connections)))
    return latencies, errors


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
