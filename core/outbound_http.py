"""Outbound HTTP to the public internet only: the one client for URLs that users or partners chose.

Webhook subscriptions, web push endpoints and CRM sync URLs are addresses someone typed; left
unchecked, the server would post to its own database port, the cloud metadata service or any
internal host and (worse) show the answer (SSRF). Every such request goes through :func:`client`:

* the host name is resolved and **every** address it resolves to must be public: loopback,
  RFC 1918, CGNAT (100.64/10), link-local (169.254/16, the metadata service), multicast,
  unspecified, reserved and documentation ranges are refused, in IPv6 too (``::1``, ``fc00::/7``,
  ``fe80::/10``) and through IPv4 embedded in IPv6 (``::ffff:127.0.0.1``, NAT64, 6to4, Teredo);
  numeric host forms (``0x7f000001``, ``2130706433``, ``127.1``, ``017700000001``) are read as
  the C resolver reads them;
* the connection goes to the address that was checked (no second lookup a rebinding DNS server
  could answer differently), with the original ``Host`` header and TLS name (SNI, certificate);
* redirects are followed, each hop checked the same way, at most :data:`MAX_REDIRECTS`;
* one **deadline** bounds everything a client does (connecting, TLS, every redirect, the answer's
  headers and body): ``timeout`` bounds each wait, but a server trickling a byte every few seconds
  never lets one expire, and held a worker (or a request thread) for as long as it liked.

:func:`check_url` applies the same rules when a URL is saved, so a bad one is a 422 at once.
``RELAIS_OUTBOUND_ALLOW_PRIVATE=true`` (development, tests against local fakes) or
``RELAIS_OUTBOUND_ALLOWED_HOSTS`` (named internal services) lift the address rule explicitly.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from core.errors import ValidationFailed
from core.settings import Settings, get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
#: a client's whole work (connect, TLS, redirects, headers and body) ends within this, by default
DEADLINE_SECONDS = 30.0
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_V4 = frozenset("0123456789abcdefxABCDEFX.")


class OutboundBlocked(ValidationFailed):
    """A URL points to a non-public address (or is not http(s)): refused, 422 naming the field."""

    def __init__(self, detail: str, *, field: str = "url") -> None:
        super().__init__(detail, errors=[{"field": field, "reason": "non_public_destination"}])


@dataclass(frozen=True)
class OutboundPolicy:
    """Which destinations are allowed beyond the public internet (nothing, by default)."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OutboundPolicy:
        s = settings or get_settings()
        hosts = frozenset(h.strip().lower() for h in s.outbound_allowed_hosts.split(",") if h.strip())
        return cls(allow_private=s.outbound_allow_private, allowed_hosts=hosts)

    def trusts(self, host: str) -> bool:
        return self.allow_private or host.strip("[]").lower() in self.allowed_hosts


def blocked_reason(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is ("a loopback address"), or ``None`` when it is public.

    The words name the kind only, so a message can name the address once beside them.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        embedded = embedded or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            reason = blocked_reason(embedded)
            if reason:
                return f"{reason} (it embeds {embedded})"
    checks = (
        ("a loopback", address.is_loopback),
        ("an unspecified", address.is_unspecified),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    )
    for kind, hit in checks:
        if hit:
            return f"{kind} address"
    if not address.is_global:
        return "a non-global address"  # CGNAT 100.64/10 and other special-purpose blocks
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for (IPv6, dotted, hex, octal, integer), else ``None``."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and set(bare) <= _NUMERIC_V4:
        try:  # inet_aton reads 127.1, 0x7f000001, 2130706433, 017700000001 like the resolver does
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a numeric host resolves to itself).

    Raises:
        socket.gaierror: the name does not resolve.
    """
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _refuse_non_public(host: str, addresses: list[IPAddress], *, field: str) -> None:
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            # "127.0.0.1 is a loopback address", "localhost resolves to 127.0.0.1, a loopback address"
            where = f"{host} is" if literal_address(host) == address else f"{host} resolves to {address},"
            raise OutboundBlocked(f"{field} must point to the public internet: {where} {reason}", field=field)


def _split(url: str, *, field: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundBlocked(f"{field} must be an http(s) URL with a host", field=field)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundBlocked(f"{field} has an invalid port", field=field) from None
    return parts.scheme, parts.hostname, port


def check_url(url: str, *, field: str = "url", policy: OutboundPolicy | None = None) -> None:
    """Refuse, at save time, a URL that is not http(s) or points to a non-public address.

    A name that does not resolve now is accepted (DNS may be down, the name may be new): the
    request itself is checked again when it is sent.

    Raises:
        OutboundBlocked: with ``field`` named in the problem.
    """
    _, host, port = _split(url, field=field)
    if (policy or OutboundPolicy.from_settings()).trusts(host):
        return
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError):
        return
    _refuse_non_public(host, addresses, field=field)


class _Deadline:
    """The moment a client's work must be over: each network wait is cut to the time left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def left(self, timeout: float | None, error: type[httpcore.TimeoutException]) -> float:
        """``timeout`` (one wait's own limit) or the time left, whichever is shorter.

        Raises:
            error: the deadline has passed.
        """
        remaining = self._ends - time.monotonic()
        if remaining <= 0:
            raise error(f"no complete answer within {self.seconds:g} s (the deadline for the whole request)")
        return remaining if timeout is None else min(timeout, remaining)

    def check(self, error: type[httpcore.TimeoutException]) -> None:
        """Raise ``error`` in the deadline's words if it has passed (a wait cut short by it timed out)."""
        self.left(None, error)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout:
            self._deadline.check(httpcore.ReadTimeout)
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._stream.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))
        except httpcore.WriteTimeout:
            self._deadline.check(httpcore.WriteTimeout)
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
            tls = self._stream.start_tls(ssl_context, server_hostname, wait)
        except httpcore.ConnectTimeout:
            self._deadline.check(httpcore.ConnectTimeout)
            raise
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each wrapped in :class:`_DeadlineStream`."""

    def __init__(self, deadline: _Deadline) -> None:
        self._backend = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            stream = self._backend.connect_tcp(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options)  # fmt: skip
        except httpcore.ConnectTimeout:
            self._deadline.check(httpcore.ConnectTimeout)
            raise
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """Checks each request's destination and connects to the very address it checked, within the deadline."""

    def __init__(self, policy: OutboundPolicy, deadline: _Deadline) -> None:
        super().__init__()
        self._policy = policy
        # httpx's transport offers no way to choose httpcore's network backend: its pool is built
        # again, as httpx builds it (default TLS context, limits), with the deadline's backend
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=_DeadlineBackend(deadline))  # fmt: skip

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise OutboundBlocked(f"refusing a {url.scheme}: URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = resolve(url.host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}: {exc}", request=request) from None
        if not self._policy.trusts(url.host):
            _refuse_non_public(url.host, addresses, field="url")
        address = addresses[0]  # trusted hosts are pinned too: one lookup per request, always
        extensions = dict(request.extensions)
        if url.scheme == "https" and literal_address(url.host) is None:
            extensions["sni_hostname"] = url.host  # TLS name and certificate check stay the host name
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=request.headers,  # keeps Host: the original name
            stream=request.stream,
            extensions=extensions,
        )
        return super().handle_request(pinned)


def client(
    *, timeout: float = 10.0, deadline: float = DEADLINE_SECONDS, policy: OutboundPolicy | None = None
) -> httpx.Client:
    """An httpx client that reaches only public addresses (see the module docstring).

    ``timeout`` bounds each wait (connecting, each read, each write); ``deadline`` counts from now
    and bounds all the client's work together (redirects and the body read included): open one
    client per call, within the ``with`` that uses it.

    Connections are pooled by the address connected to: use one client per destination host, so a
    TLS connection verified for one name is never reused for another name on the same address.

    Raises (from its requests and their bodies):
        OutboundBlocked: a destination, or a redirect hop, is not public.
        httpx.TimeoutException: a wait took longer than ``timeout``, or the deadline passed (its words
            say "the deadline for the whole request").
        httpx.HTTPError: the usual network failures, an unresolvable name included.
    """
    return httpx.Client(
        transport=_PinnedTransport(policy or OutboundPolicy.from_settings(), _Deadline(deadline)),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
