"""The PostgreSQL server the benchmarks' tests run them against."""

from __future__ import annotations

import pytest

from tests.helpers import skip_unless_ci


@pytest.fixture
def server(postgres_url: str | None) -> str:
    """The PostgreSQL server the benches create their own database on."""
    if postgres_url is None:
        skip_unless_ci("PostgreSQL is not reachable on 127.0.0.1:5432 and RELAIS_TEST_DATABASE_URL is unset")
    return postgres_url
