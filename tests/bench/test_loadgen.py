"""bench.loadgen.open_loop against a real local HTTP server: evenly spread by default, and with ``every`` the
bodies due within each period leave together (the fake provider's 5 ms batches of delivery reports)."""

from __future__ import annotations

import asyncio
import itertools
import time

from bench.loadgen import open_loop


async def _serve_and_post(count: int, rate: float, every: float) -> list[float]:
    arrivals: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(
                    b"content-length:"))  # fmt: skip
                await reader.readexactly(length)
                arrivals.append(time.perf_counter())
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, failures = await open_loop(
            port, "/", [b"x"] * count, rate=rate, connections=8, on_sent=lambda _i, _t: None, every=every
        )
    assert failures == 0
    return arrivals


def _groups(arrivals: list[float], gap: float) -> list[int]:
    """Sizes of the runs of arrivals closer than ``gap`` s to the previous one."""
    sizes = [1]
    for before, after in itertools.pairwise(arrivals):
        if after - before < gap:
            sizes[-1] += 1
        else:
            sizes.append(1)
    return sizes


def test_bodies_due_within_a_period_leave_together_and_the_rate_holds() -> None:
    # 200/s in 50 ms periods: 10 bodies a period, sent together, the periods 50 ms apart
    arrivals = asyncio.run(_serve_and_post(40, 200.0, 0.05))
    assert len(arrivals) == 40
    groups = _groups(arrivals, 0.02)
    assert len(groups) <= 8 and max(groups) >= 6, groups  # 4 periods (a loaded machine may split one)
    assert 0.12 <= arrivals[-1] - arrivals[0] <= 0.6


def test_without_a_period_bodies_leave_one_by_one() -> None:
    arrivals = asyncio.run(_serve_and_post(20, 100.0, 0.0))  # 10 ms apart
    assert len(arrivals) == 20
    assert max(_groups(arrivals, 0.004)) <= 4
