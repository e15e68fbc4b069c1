"""A real server for the console's live tests: uvicorn in a thread, workers and scheduler in-process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, Page

from core.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JobPump:
    """Runs queued RQ jobs continuously in a thread (burst after burst) until stopped.

    Stands in for ``workers.embedded.in_process``, whose worker threads cannot be stopped from a
    non-main thread (RQ's ``request_stop`` installs signal handlers).
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-job-pump", daemon=True)

    def _run(self) -> None:
        from workers.runner import make_worker

        while not self._stop.is_set():
            make_worker(threaded=True).work(burst=True, logging_level="WARNING")
            self._stop.wait(0.02)

    def __enter__(self) -> JobPump:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def live_server(runtime: Settings) -> Iterator[str]:
    """The whole app (API, console, simulator) on a loopback port with jobs running; yields its URL."""
    from api.app import create_app

    app = create_app(runtime)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    with JobPump():
        yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module (skipped locally, failed in CI, when it is missing)."""
    from tests.console import browser as tools

    yield from tools.launch()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized tab that may download; 30 s per step, as the shared test machine can be slow."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
