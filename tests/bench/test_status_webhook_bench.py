"""bench.status_webhook with tiny numbers: the layout comes up, every report is answered 200 and kept in Redis,
the profile round writes its statistics, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis as redis_lib

from bench import status_webhook
from tests.bench.helpers import databases_named, own_database_prefix

pytestmark = pytest.mark.postgres


def test_status_webhook_bench_keeps_every_report_and_cleans_up(
    server: str, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = own_database_prefix()
    profile = tmp_path / "api.prof"
    code = status_webhook.main(
        ["--reports", "40", "--rounds", "2", "--warmup", "10", "--rate", "200", "--profile", str(profile),
         "--database-url", server, "--database-prefix", prefix, "--redis-url", redis_url]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 failed, 90 reports kept in Redis" in out
    assert out.count("us per report (") == 2 and "API processor time per report: median" in out
    assert profile.stat().st_size > 0 and "take_status" in out
    assert databases_named(server, prefix) == set()
    assert redis_lib.Redis.from_url(redis_url).dbsize() == 0
