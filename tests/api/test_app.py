"""``create_app``'s background: what ``relais run`` hosts in-process lives exactly as long as the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings


def test_background_is_entered_at_start_up_and_left_at_shutdown(runtime: Settings) -> None:
    events: list[str] = []

    @contextmanager
    def background() -> Iterator[None]:
        events.append("entered")
        yield
        events.append("left")

    app = create_app(runtime, background=background)
    assert events == []
    with TestClient(app) as client:
        assert events == ["entered"]
        assert client.get("/healthz").status_code == 200
    assert events == ["entered", "left"]


def test_without_background_the_app_starts_alone(runtime: Settings) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
