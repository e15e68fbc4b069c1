"""The public-only outbound client: internal destinations refused in every spelling, redirects
checked hop by hop, the checked address is the one connected to, response bodies never kept."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from core import outbound_http
from core.outbound_http import OutboundBlocked, OutboundPolicy
from tests.core.trickling_server import trickling

PUBLIC_ONLY = OutboundPolicy()

INTERNAL = [
    "http://127.0.0.1/",
    "http://127.0.0.1:5432/",
    "http://localhost:6379/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://017700000001/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # CGNAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://[ff02::1]/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_destinations_are_refused_at_save_time(url: str) -> None:
    with pytest.raises(OutboundBlocked) as err:
        outbound_http.check_url(url, field="url", policy=PUBLIC_ONLY)
    assert err.value.status_code == 422 and err.value.errors[0]["field"] == "url"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1 is a loopback address"),
        ("http://localhost/x", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is a private address (it embeds 10.0.0.1)"),
    ],
)
def test_a_refusal_names_the_address_once(url: str, said: str) -> None:
    """It read '127.0.0.1 is a loopback address 127.0.0.1'."""
    with pytest.raises(OutboundBlocked) as err:
        outbound_http.check_url(url, field="url", policy=PUBLIC_ONLY)
    assert err.value.detail == f"url must point to the public internet: {said}"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)", "http:///x"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(OutboundBlocked, match="http"):
        outbound_http.check_url(url, policy=PUBLIC_ONLY)


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/hook", "https://[2606:4700:4700::1111]/", "https://hooks.example.invalid/x"]
)
def test_public_or_not_yet_resolvable_urls_are_accepted(url: str) -> None:
    outbound_http.check_url(url, policy=PUBLIC_ONLY)  # an unresolvable name is checked again when sent


def test_the_allow_settings_lift_the_rule_explicitly() -> None:
    outbound_http.check_url("http://127.0.0.1:9/", policy=OutboundPolicy(allow_private=True))
    outbound_http.check_url("http://localhost:9/", policy=OutboundPolicy(allowed_hosts=frozenset({"localhost"})))
    with pytest.raises(OutboundBlocked):
        outbound_http.check_url("http://127.0.0.1:9/", policy=OutboundPolicy(allowed_hosts=frozenset({"localhost"})))


class Server:
    """A loopback HTTP server whose handler is a plain function of the request handler."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.hosts: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hosts.append(self.headers["host"])
                respond(self)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.httpd.shutdown()


def _ok(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.end_headers()
    handler.wfile.write(b"internal secret")


def test_requests_to_internal_addresses_are_refused_before_connecting(servers: list[Server]) -> None:
    server = Server(_ok)
    servers.append(server)
    for url in (f"http://127.0.0.1:{server.port}/", f"http://0x7f000001:{server.port}/", f"http://[::ffff:127.0.0.1]:{server.port}/"):
        with outbound_http.client(policy=PUBLIC_ONLY) as client, pytest.raises(OutboundBlocked):
            client.get(url)
    assert server.hosts == []


def test_a_redirect_to_an_internal_address_is_refused(servers: list[Server]) -> None:
    target = Server(_ok)

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("location", f"http://127.0.0.1:{target.port}/admin")
        handler.end_headers()

    entry = Server(redirect)
    servers.extend([target, entry])
    # "localhost" is trusted (an allow-listed internal service); 127.0.0.1 is not
    policy = OutboundPolicy(allowed_hosts=frozenset({"localhost"}))
    with outbound_http.client(policy=policy) as client, pytest.raises(OutboundBlocked, match="loopback"):
        client.get(f"http://localhost:{entry.port}/")
    assert len(entry.hosts) == 1 and target.hosts == []


def test_the_name_is_resolved_once_and_the_checked_address_is_connected(
    servers: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(_ok)
    servers.append(server)
    lookups: list[str] = []
    real = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    policy = OutboundPolicy(allowed_hosts=frozenset({"localhost"}))
    with outbound_http.client(policy=policy) as client:
        response = client.get(f"http://localhost:{server.port}/")
    assert response.status_code == 200
    assert lookups.count("localhost") == 1  # no second lookup a rebinding DNS could answer differently
    assert server.hosts == [f"localhost:{server.port}"]  # the Host header keeps the name


def test_trusted_loopback_works_when_allowed(servers: list[Server]) -> None:
    server = Server(_ok)
    servers.append(server)
    with outbound_http.client(policy=OutboundPolicy(allow_private=True)) as client:
        assert client.get(f"http://127.0.0.1:{server.port}/").status_code == 200


def test_non_http_schemes_are_refused_by_the_client() -> None:
    refused = (OutboundBlocked, httpx.UnsupportedProtocol)
    with outbound_http.client(policy=PUBLIC_ONLY) as client, pytest.raises(refused):
        client.get("ftp://example.com/")


SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"


@pytest.mark.parametrize("head", [0, len(SLOW_HEAD)], ids=["headers trickled", "body trickled"])
def test_a_server_trickling_its_answer_is_cut_off_at_the_deadline(head: int) -> None:
    """A byte every 0.2 s never lets the 1 s per-read timeout expire: the answer took 200 s (headers included)
    and held the caller all along. The deadline ends the whole request, headers or body."""
    start = time.monotonic()
    with (
        trickling(SLOW_HEAD + b"x" * 1000, head=head) as url,
        pytest.raises(httpx.ReadTimeout) as err,
        outbound_http.client(timeout=1, deadline=2, policy=OutboundPolicy(allow_private=True)) as client,
        client.stream("GET", url) as response,
    ):
        for _ in response.iter_bytes():
            pass
    assert 2 <= time.monotonic() - start < 3.5
    assert "no complete answer within 2 s (the deadline for the whole request)" in str(err.value)


def test_the_deadline_spans_redirects() -> None:
    """Each hop starting its own count would let a chain of slow redirects run six times as long."""
    hops: list[httpx.Response] = []
    # Connection: close: the server hangs up after each answer, so the second hop opens its own connection (reusing
    # the first raced the hang-up on a loaded machine: a reset, not the deadline)
    answer = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    with trickling(answer, every=0.045) as url:  # each hop's answer takes 3.6 s, the first well within the deadline
        start = time.monotonic()
        with outbound_http.client(timeout=1, deadline=6, policy=OutboundPolicy(allow_private=True)) as client:
            client.event_hooks["response"].append(hops.append)
            with pytest.raises(httpx.ReadTimeout, match="deadline"):
                client.get(url)  # the second hop passes the deadline: each hop with a count of its own would not
    assert len(hops) == 1 and time.monotonic() - start < 7.5
