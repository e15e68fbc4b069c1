"""Delivery test fixtures: a fake Vonage HTTPS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import KEY, SECRET


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeVonage]:
    fake = FakeVonage(api_key=KEY, api_secret=SECRET, application_id="app", public_key_pem=b"")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(_server: FakeVonage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVonage:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(_server.ca_pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _server.requests.clear()
    return _server
