"""The fake provider's delivery reports reach a server that refuses them for a while, as Vonage's retries do.

A report dropped after two refusals left a campaign bench waiting for it until its stall timeout
(485 messages stuck ``sent`` on a machine at load average 17), with no reason given.
"""

from __future__ import annotations

import asyncio

from bench import fake_provider


async def _refusing_server(refusals: int) -> tuple[asyncio.Server, list[int]]:
    """A bare HTTP server answering 503 to its first ``refusals`` posts, then 200; it records each status."""
    answered: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            lines = head.lower().split(b"\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length:"))
            await reader.readexactly(length)
            status = 503 if len(answered) < refusals else 200
            answered.append(status)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), answered


async def _deliver(refusals: int, wait: float) -> list[int]:
    server, answered = await _refusing_server(refusals)
    port = server.sockets[0].getsockname()[1]
    queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()
    reporter = asyncio.create_task(fake_provider._reporter(queue))
    queue.put_nowait((f"http://127.0.0.1:{port}/webhooks/vonage/status", b"status=delivered", 0))
    await asyncio.sleep(wait)
    reporter.cancel()
    server.close()
    return answered


def test_a_refused_report_is_posted_again_later_until_accepted() -> None:
    # each round tries twice (a closed keep-alive connection); refused twice at once, twice again after 1 s,
    # accepted in the round 2 s later
    assert asyncio.run(_deliver(refusals=4, wait=3.6)) == [503, 503, 503, 503, 200]


def test_an_accepted_report_is_posted_once() -> None:
    assert asyncio.run(_deliver(refusals=0, wait=0.3)) == [200]
