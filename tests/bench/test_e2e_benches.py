"""The end-to-end benchmarks' set-up and teardown, run with tiny numbers so they cannot rot.

Benchmarks are not tests: these check that each bench brings the production layout up (fresh
PostgreSQL database, Redis, ``relais run --no-workers``, workers, the fake provider with its
delivery reports), that its accounting adds up on a small load, and that it leaves nothing behind
(no database, no Redis keys). The figures themselves are in docs/delivery.md.
"""

from __future__ import annotations

import re

import pytest
import redis as redis_lib

from bench import campaign_e2e, inbound_e2e
from tests.bench.helpers import databases_named, own_database_prefix

pytestmark = pytest.mark.postgres


def test_campaign_bench_delivers_every_message_once_and_cleans_up(
    server: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = own_database_prefix()
    code = campaign_e2e.main(
        ["--recipients", "200", "--workers", "1", "--raw-seconds", "1", "--floor-seconds", "1", "--stall-timeout", "60",
         "--database-url", server, "--database-prefix", prefix, "--redis-url", redis_url]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lost 0, duplicated 0" in out
    assert "{'delivered': 200}" in out
    assert "msg/s" in out and "Relais / limit" in out
    # the floor (bench/floor.py): every report it sent came back signed and was checked
    floor_line = next(
        line for line in out.splitlines() if line.startswith("                    ") and "reports checked" in line
    )
    sent, reports = (int(n.replace(",", "")) for n in re.findall(r"([\d,]+) (?:sent|reports checked)", floor_line))
    assert sent > 0 and reports == sent and "(0 bad)" in floor_line, out
    cpu_line = next(line for line in out.splitlines() if line.startswith("floor CPU"))
    assert re.match(r"floor CPU +\d+\.\d+ ms/msg \(", cpu_line), out
    assert all(name in cpu_line for name in ("sender 0", "receiver", "fake provider", "redis-server")), out
    assert re.search(r"floor capacity .* msg/s; Relais [\d,]+ msg/s = \d\.\d\d of it", out), out
    assert databases_named(server, prefix) == set()
    assert redis_lib.Redis.from_url(redis_url).dbsize() == 0


def test_inbound_bench_answers_every_text_and_cleans_up(
    server: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = own_database_prefix()
    code = inbound_e2e.main(
        ["--rate", "2", "--seconds", "2", "--ramp", "", "--warm-up", "0", "--embedder-seconds", "0.5",
         "--drain", "90", "--workers", "1", "--database-url", server, "--database-prefix", prefix,
         "--redis-url", redis_url]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 at the provider" in out and "lost 0" in out
    assert "webhook failures 0" in out
    assert databases_named(server, prefix) == set()
    assert redis_lib.Redis.from_url(redis_url).dbsize() == 0
