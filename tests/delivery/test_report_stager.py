"""The status webhook's group commit (delivery.reports.Stager) against a real Redis: webhooks arriving
together share one push, each answers only once its reports are kept, a push needs no worker thread
(only an apply job's enqueue does), a failed push fails every webhook that waited on it (the provider
retries), and the next webhook pushes again."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from bench.fake_provider import free_port
from channels.base import DeliveryReport
from core.queue import get_queue
from core.redis import get_redis
from core.redis_async import LoopRedis
from core.settings import Settings
from delivery import reports

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The commands of each round trip the stager's Redis connection makes (a real one)."""
    calls: list[int] = []
    original = LoopRedis.execute

    async def counted(self: LoopRedis, *commands: Any) -> list[Any]:
        calls.append(len(commands))
        return await original(self, *commands)

    monkeypatch.setattr(LoopRedis, "execute", counted)
    return calls


class NoThreads(ThreadPoolExecutor):
    """An event loop's default executor that refuses work: what runs in a worker thread fails."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a worker thread was asked for")


def _report(n: int) -> DeliveryReport:
    return DeliveryReport(provider="vonage-sms", provider_message_id=f"P{n}", status="delivered", occurred_at=NOW,
                          provider_status="delivered", client_ref=f"relais-{n}", raw={"messageId": f"P{n}"})


def test_webhooks_arriving_together_share_one_push_and_answer_once_kept(runtime: Settings, pushes: list[int]) -> None:
    client = get_redis(runtime)
    seen_kept: list[int] = []

    async def webhook(n: int) -> int:
        accepted = await reports.stager(client).stage([_report(n)])
        seen_kept.append(int(client.llen(reports.PENDING_KEY)))
        return accepted

    async def burst() -> tuple[list[int], int]:
        accepted = list(await asyncio.gather(*(webhook(n) for n in range(50))))
        return accepted, await _queued_after(reports.APPLY_DELAY_SECONDS)

    accepted, queued_at_once = asyncio.run(burst())
    assert accepted == [1] * 50
    assert pushes == [2]  # one round trip for the 50 webhooks: the list push and the flag
    assert min(seen_kept) == 50  # none answered before its report was in Redis
    kept = [reports.decode(raw) for raw in client.lrange(reports.PENDING_KEY, 0, -1)]
    assert sorted(r.provider_message_id for r in kept) == sorted(f"P{n}" for n in range(50))
    assert kept[0] == _report(int(kept[0].provider_message_id[1:]))  # every field but the provider's raw ones
    assert queued_at_once == 0  # not at once: the reports of the next moment go in the same batch
    assert get_queue("inbound").count == 1  # one apply job scheduled, after the delay


async def _queued_after(delay: float) -> int:
    """The apply jobs queued just before ``delay`` s are over; then waits (up to 10 s) for the first one."""
    await asyncio.sleep(delay * 0.8)
    queued = get_queue("inbound").count
    for _ in range(100):
        await asyncio.sleep(max(delay * 0.2, 0.1))
        if get_queue("inbound").count:
            break
    return queued


def test_a_failed_enqueue_drops_the_flag_so_the_next_report_schedules_the_job(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = get_redis(runtime)
    failures: list[int] = []

    def refused() -> None:
        failures.append(1)
        raise redis.ConnectionError("Redis went away")

    async def webhooks() -> list[int]:
        stager = reports.Stager(client, delay=0.05)
        monkeypatch.setattr(reports, "_enqueue_apply", refused)
        first = await stager.stage([_report(1)])
        for _ in range(100):
            await asyncio.sleep(0.05)
            if failures and not client.exists(reports.SCHEDULED_KEY):
                break
        monkeypatch.undo()
        second = await stager.stage([_report(2)])  # the flag is down: this one schedules the job
        for _ in range(100):
            await asyncio.sleep(0.05)
            if get_queue("inbound").count:
                break
        return [first, second]

    assert asyncio.run(webhooks()) == [1, 1]
    assert failures == [1]
    assert get_queue("inbound").count == 1
    assert client.llen(reports.PENDING_KEY) == 2  # kept all along


def test_a_push_runs_on_the_event_loop_without_a_worker_thread(runtime: Settings) -> None:
    client = get_redis(runtime)
    client.set(reports.SCHEDULED_KEY, "1")  # an apply job is scheduled: nothing to enqueue

    async def webhooks() -> list[int]:
        asyncio.get_running_loop().set_default_executor(NoThreads())
        stager = reports.stager(client)
        return [await stager.stage([_report(1)]), *await asyncio.gather(*(stager.stage([_report(n)]) for n in (2, 3)))]

    assert asyncio.run(webhooks()) == [1, 1, 1]
    assert client.llen(reports.PENDING_KEY) == 3
    assert get_queue("inbound").count == 0


def test_a_failed_push_fails_every_waiting_webhook_and_the_next_pushes_again(runtime: Settings) -> None:
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)

    async def burst() -> list[int | BaseException]:
        stager = reports.stager(unreachable)
        return list(await asyncio.gather(*(stager.stage([_report(n)]) for n in range(5)), return_exceptions=True))

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, redis.ConnectionError) for o in outcomes)  # a 500: the provider sends them again

    client = get_redis(runtime)

    async def later() -> int:
        stager = reports.stager(client)
        assert await stager.stage([_report(1)]) == 1
        return await stager.stage([_report(2)])  # the flusher ended after its push: a new one starts

    assert asyncio.run(later()) == 1
    assert client.llen(reports.PENDING_KEY) == 2
