"""A lighter transport under the provider SDKs' ``requests`` sessions: keep-alive connections per host.

The Vonage SDK builds its requests with ``requests`` and parses ``requests.Response`` objects; that
stays. What this replaces is the layer below (``HTTPAdapter.send`` → urllib3's pool → ``http.client``),
which cost a send worker about as much processor time per call as everything else in the SDK call:
connection-pool keys, URL parsing, header validation one header at a time, two writes per request,
``http.client``'s header parsing through the ``email`` package, the response's stream layers and a
cookie extraction. :class:`KeepAliveAdapter` writes the request the adapter would write (the same
request line, ``Host`` and headers in the same order, then the body) in one ``sendall`` on a
keep-alive TLS connection taken from a small per-host pool, reads the answer with ``httptools``'
C parser (llhttp, the one uvicorn uses: lengths, chunked bodies, keep-alive rules), and gives the
SDK a ready ``requests.Response`` (status, headers, body, encoding, url, request).

Everything else goes to the ``fallback`` adapter unchanged: plain ``http://``, a proxy, a client
certificate, ``stream=True``, a user name in the URL, a non-ASCII host, ``HEAD``. Errors are raised
as ``requests`` raises them, so callers map them as before: a connection that never opened
(:class:`ConnectFailed`, a ``ConnectionError``), ``ConnectTimeout``, ``SSLError`` (nothing was
sent); ``ReadTimeout`` and ``ConnectionError`` once the request may have left. A pooled connection
the server closed while idle is noticed before reuse (the socket is readable: end of file) and
replaced; one closed in the instant between the check and the write gives
``ConnectionError("Connection aborted.", RemoteDisconnected(...))``, as urllib3 raises it (the
Vonage SDK retries those itself).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import socket
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from http.client import RemoteDisconnected
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httptools
import requests
from requests.adapters import DEFAULT_CA_BUNDLE_PATH, BaseAdapter
from requests.cookies import RequestsCookieJar, cookiejar_from_dict
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, select_proxy
from urllib3 import HTTPResponse

_CHUNK = 65536
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")  # what http.client refuses in a request target


class ConnectFailed(requests.ConnectionError):
    """The connection to the provider never opened (refused, unreachable, name unknown): nothing was sent."""


class _Target(NamedTuple):
    host: str
    port: int
    host_header: str
    request_target: str


@lru_cache(maxsize=64)
def _target(url: str) -> _Target | None:
    """Where an ``https`` URL goes and how its request line and ``Host`` read; ``None`` when the fast
    path does not take it (another scheme, a user name, a non-ASCII host, a character http.client refuses)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme != "https" or not host or parts.username is not None or not host.isascii():
        return None
    port = parts.port or 443
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if _BAD_TARGET.search(target):
        return None
    shown = f"[{host}]" if ":" in host else host  # http.client brackets an IPv6 address, drops the default port
    return _Target(host, port, shown if port == 443 else f"{shown}:{port}", target)


class _Answer:
    """httptools callbacks collecting one response."""

    __slots__ = ("body", "complete", "headers", "headers_done", "keep_alive", "parser", "reason", "status")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.reason = ""
        self.headers_done = False
        self.complete = False
        self.status = 0
        self.keep_alive = False

    def on_message_begin(self) -> None:  # after an interim answer (1xx), the final one starts afresh
        self.headers, self.body, self.headers_done, self.complete = [], [], False, False

    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp answers this inside the callback only


class _Connection:
    """One TLS connection to a host; used by one thread at a time."""

    __slots__ = ("sock",)

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock

    def dropped(self) -> bool:
        """An idle keep-alive connection has nothing to read; readable means closed (or garbage): drop it."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout


class KeepAliveAdapter(BaseAdapter):
    """A ``requests`` transport adapter for provider APIs: see the module docstring.

    Args:
        fallback: the adapter for what the fast path does not take (see the module docstring);
            closed with this one.
        pool_maxsize: idle connections kept per host (one per concurrent sender is enough); a call
            finding none idle opens one, and one returned to a full pool is closed.
    """

    def __init__(self, *, fallback: BaseAdapter, pool_maxsize: int) -> None:
        super().__init__()
        self.fallback = fallback
        self._maxsize = pool_maxsize
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[bool | str, ssl.SSLContext] = {}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url if isinstance(request.url, str) else (request.url or b"").decode()
        target = _target(url)
        if (
            target is None
            or not (timeout is None or isinstance(timeout, int | float | tuple))
            or stream
            or cert is not None
            or request.method in (None, "HEAD")
            or (proxies and select_proxy(url, dict(proxies)))
        ):
            return self.fallback.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                      proxies=dict(proxies or {}))  # fmt: skip
        connect_timeout, read_timeout = _timeouts(timeout)
        head = self._head(request, target)
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body or b""
        if not isinstance(body, bytes):  # a file or a generator: requests streams those
            return self.fallback.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                      proxies=dict(proxies or {}))  # fmt: skip
        connection = self._take(target, verify, connect_timeout)
        try:
            status, answer, keep = self._exchange(connection, head + body, read_timeout)
        except BaseException:
            connection.close()
            raise
        if keep:
            self._give_back(target, connection)
        else:
            connection.close()
        return self._response(request, url, status, answer)

    @staticmethod
    def _head(request: requests.PreparedRequest, target: _Target) -> bytes:
        """The request line and headers as urllib3 writes them through ``http.client``."""
        lines = [f"{request.method} {target.request_target} HTTP/1.1"]
        headers = request.headers
        if "host" not in headers:
            lines.append(f"Host: {target.host_header}")
        # a CaseInsensitiveDict keeps (name as set, value) by lower-cased name: read those pairs as they
        # are, not through the mapping's Python-level iteration and a lookup per name
        pairs = headers._store.values() if isinstance(headers, CaseInsensitiveDict) else headers.items()
        lines += [_header_line(name, value) for name, value in pairs]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                location = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
                is_dir = location != DEFAULT_CA_BUNDLE_PATH and os.path.isdir(location)
                context = ssl.create_default_context(
                    cafile=None if is_dir else location, capath=location if is_dir else None
                )
            context.set_alpn_protocols(["http/1.1"])
            self._contexts[verify] = context
        return context

    def _take(self, target: _Target, verify: bool | str, connect_timeout: float | None) -> _Connection:
        key = (target.host, target.port)
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                connection = idle.pop()
                if not connection.dropped():
                    return connection
                connection.close()
        try:
            context = self._context(verify)
        except OSError as exc:  # requests raises this for a CA bundle that is not there
            raise OSError(f"Could not find a suitable TLS CA certificate bundle, invalid path: {verify}") from exc
        try:
            raw = socket.create_connection((target.host, target.port), timeout=connect_timeout)
        except TimeoutError as exc:
            raise requests.ConnectTimeout(f"Connection to {target.host_header} timed out: {exc}") from exc
        except OSError as exc:
            raise ConnectFailed(f"Failed to establish a new connection to {target.host_header}: {exc}") from exc
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = context.wrap_socket(raw, server_hostname=target.host)
        except ssl.SSLError as exc:
            raw.close()
            raise requests.exceptions.SSLError(exc) from exc
        except TimeoutError as exc:
            raw.close()
            raise requests.ConnectTimeout(f"TLS handshake with {target.host_header} timed out") from exc
        except OSError as exc:
            raw.close()
            raise ConnectFailed(f"TLS handshake with {target.host_header} failed: {exc}") from exc
        return _Connection(sock)

    def _give_back(self, target: _Target, connection: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault((target.host, target.port), [])
            if len(idle) < self._maxsize:
                idle.append(connection)
                return
        connection.close()

    @staticmethod
    def _exchange(connection: _Connection, data: bytes, read_timeout: float | None) -> tuple[int, _Answer, bool]:
        """Write the request, read one final response; returns (status, answer, connection reusable)."""
        sock = connection.sock
        answer = _Answer()
        received = False
        try:
            sock.settimeout(read_timeout)
            sock.sendall(data)
            while True:
                chunk = sock.recv(_CHUNK)
                if not chunk:
                    if answer.headers_done and not _framed(answer.headers):
                        return answer.status, answer, False  # a body that ends with the connection
                    if not received:
                        raise requests.ConnectionError(
                            "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
                        )
                    raise requests.ConnectionError("Connection broken: the response ended early")
                received = True
                answer.parser.feed_data(chunk)
                if answer.complete:
                    if 100 <= answer.status < 200:  # an interim answer (100 Continue): the final one follows
                        answer.complete = False
                        continue
                    return answer.status, answer, answer.keep_alive
        except TimeoutError as exc:
            raise requests.ReadTimeout(f"Read timed out (timeout={read_timeout})") from exc
        except httptools.HttpParserError as exc:
            raise requests.ConnectionError(f"Connection broken: malformed response ({exc})") from exc
        except OSError as exc:
            if not received and isinstance(exc, BrokenPipeError):  # urllib3 reads on, and finds the end of file
                raise requests.ConnectionError(
                    "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
                ) from exc
            raise requests.ConnectionError("Connection aborted.", exc) from exc

    def _response(self, request: requests.PreparedRequest, url: str, status: int, answer: _Answer) -> requests.Response:
        response = ProviderResponse()
        response.status_code = status
        response.reason = answer.reason
        store: OrderedDict[str, tuple[str, str]] = OrderedDict()  # CaseInsensitiveDict's layout, without its setter
        for name, value in answer.headers:
            key = name.lower()
            seen = store.get(key)
            store[key] = (name, f"{seen[1]}, {value}") if seen else (name, value)  # as urllib3 joins repeats
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        headers._store = store
        response.headers = headers
        content = b"".join(answer.body)
        if headers.get("content-encoding", "identity").lower() != "identity":  # gzip and co., decoded as urllib3 does
            content = HTTPResponse(body=io.BytesIO(content), headers=headers, status=status, preload_content=True,
                                   decode_content=True).data  # fmt: skip
        response._content = content
        response._content_consumed = True
        response.encoding = get_encoding_from_headers(headers)
        response.url = url
        response.request = request
        return response

    def close(self) -> None:
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()
        self.fallback.close()


@lru_cache(maxsize=1024)  # a provider's requests repeat their headers; Content-Length takes a few hundred values
def _header_line(name: str, value: str | bytes) -> str:
    """``name: value`` as http.client writes it; raises ``ValueError`` for a line break in either."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
        raise ValueError(f"Invalid header {name!r}: a line break would end the header")
    return f"{name}: {text}"


class ProviderResponse(requests.Response):
    """A ``requests.Response`` whose cookie jar is made only if someone reads it.

    ``requests.Response()`` builds an empty cookie jar for every answer (a ``CookieJar``, its default
    policy and a lock: about 5 % of a sending lane's processor time under a campaign) and an empty
    header mapping this transport replaces at once; provider APIs set no cookies a sender needs,
    and this transport never stored any. Everything else is ``requests.Response`` unchanged.
    """

    def __init__(self) -> None:  # requests.Response.__init__'s attributes, but the cookie jar
        self._content = False
        self._content_consumed = False
        self._next = None
        self.status_code = None  # type: ignore[assignment]
        self.raw = None
        self.url = None  # type: ignore[assignment]
        self.encoding = None
        self.history = []
        self.reason = None  # type: ignore[assignment]
        self.elapsed = _NO_TIME
        self.request = None  # type: ignore[assignment]

    @property
    def cookies(self) -> RequestsCookieJar:
        jar: RequestsCookieJar | None = self.__dict__.get("_cookies")
        if jar is None:
            jar = self.__dict__["_cookies"] = cookiejar_from_dict({})
        return jar

    @cookies.setter
    def cookies(self, jar: RequestsCookieJar) -> None:
        self.__dict__["_cookies"] = jar


_NO_TIME = timedelta(0)


def _framed(headers: list[tuple[str, str]]) -> bool:
    """Whether the response says where its body ends (a length or chunks), so an end of file before is an error."""
    return any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers)
