"""A lean Redis connection for an asyncio event loop: commands pipelined on one connection, no thread.

The API's status webhook keeps each delivery report in Redis before answering, thousands a second
during a campaign. redis-py's sync client run in a worker thread cost the API about 220 µs of
processor time per push (the thread hand-off and redis-py's layers; a third of the API's time per
report), its asyncio client about 110 µs; this one about 20 µs: the commands are written as RESP in
one write and the replies read by a small RESP2 parser on the event loop.

It speaks what its callers need and no more: TCP, TLS or a unix socket, ``AUTH`` and ``SELECT`` from
the redis-py client it is made :meth:`like` (so the same URL means the same server), replies of
simple strings, errors, integers, bulk strings and arrays. Failures are redis-py's exceptions: a
refused or lost connection is :class:`redis.ConnectionError`, a reply later than the timeout
:class:`redis.TimeoutError` (the connection is then dropped), an error reply
:class:`redis.ResponseError`; the next call connects again.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.asyncio.connection import RedisSSLContext

#: What a reply may be: bytes (simple and bulk strings), int, None (nil), a list, or the error replied.
Reply = Any
Arg = str | bytes | int
DEFAULT_TIMEOUT = 10.0
_INCOMPLETE = object()


def pack(*args: Arg) -> bytes:
    """One command as RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def parse(buffer: bytes | bytearray, start: int) -> tuple[Reply, int] | None:
    """The reply at ``start`` and the position after it, or ``None`` when it has not all arrived."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return None
    kind, line, after = buffer[start], bytes(buffer[start + 1 : end]), end + 2
    if kind == 0x2B:  # +
        return line, after
    if kind == 0x3A:  # :
        return int(line), after
    if kind == 0x24:  # $
        size = int(line)
        if size < 0:
            if size == -1:  # nil
                return None, after
            raise redis.ConnectionError(f"unexpected reply from Redis: {bytes(buffer[start:end + 2])!r}")
        if len(buffer) < after + size + 2:
            return None
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == 0x2D:  # -
        return redis.ResponseError(line.decode(errors="replace")), after
    if kind == 0x2A:  # *
        count = int(line)
        if count < 0:
            return None, after
        items: list[Reply] = []
        for _ in range(count):
            found = parse(buffer, after)
            if found is None:
                return None
            item, after = found
            items.append(item)
        return items, after
    raise redis.ConnectionError(f"unexpected reply from Redis: {bytes(buffer[start:end + 2])!r}")


@dataclass(slots=True)
class _Call:
    future: asyncio.Future[list[Reply]]
    expected: int
    replies: list[Reply] = field(default_factory=list)


class _Connection(asyncio.Protocol):
    """One connection: calls are answered in the order they were written (Redis answers in order)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.calls: collections.deque[_Call] = collections.deque()
        self.buffer = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        position = 0
        try:
            while self.calls:
                found = parse(self.buffer, position)
                if found is None:
                    break
                reply, position = found
                call = self.calls[0]
                call.replies.append(reply)
                if len(call.replies) == call.expected:
                    self.calls.popleft()
                    if not call.future.done():
                        call.future.set_result(call.replies)
        except redis.ConnectionError as exc:
            self.fail(exc)
            return
        del self.buffer[:position]
        if self.buffer and not self.calls:
            self.fail(redis.ConnectionError("Redis sent a reply nobody asked for"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail_calls(redis.ConnectionError(f"Connection to Redis lost: {exc or 'closed by the server'}"))

    def fail(self, exc: Exception) -> None:
        """Drop the connection, failing every call still waiting with ``exc``."""
        self.lost = True
        self._fail_calls(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail_calls(self, exc: Exception) -> None:
        while self.calls:
            call = self.calls.popleft()
            if not call.future.done():
                call.future.set_exception(exc)

    def send(self, commands: Sequence[Sequence[Arg]]) -> asyncio.Future[list[Reply]]:
        assert self.transport is not None
        future: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
        self.calls.append(_Call(future, len(commands)))
        self.transport.write(b"".join(pack(*command) for command in commands))
        return future


class LoopRedis:
    """A pipelined Redis connection for the running event loop (one loop: make one per loop)."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        ssl: RedisSSLContext | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        self._host, self._port, self._path, self._db = host, port, path, db
        self._username, self._password, self._ssl = username, password, ssl
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._connect_timeout = connect_timeout or self._timeout
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    @classmethod
    def like(cls, client: redis.Redis) -> LoopRedis:
        """The server, database and credentials ``client`` uses (from its connection pool's settings)."""
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        ssl = None
        if issubclass(pool.connection_class, redis.SSLConnection):
            ssl = RedisSSLContext(
                keyfile=kwargs.get("ssl_keyfile"), certfile=kwargs.get("ssl_certfile"),
                cert_reqs=kwargs.get("ssl_cert_reqs", "required"), ca_certs=kwargs.get("ssl_ca_certs"),
                ca_data=kwargs.get("ssl_ca_data"), ca_path=kwargs.get("ssl_ca_path"),
                check_hostname=kwargs.get("ssl_check_hostname", True), password=kwargs.get("ssl_password"),
            )  # fmt: skip
        return cls(
            host=kwargs.get("host", "localhost"), port=int(kwargs.get("port", 6379)), path=kwargs.get("path"),
            db=int(kwargs.get("db") or 0), username=kwargs.get("username"), password=kwargs.get("password"),
            ssl=ssl, timeout=kwargs.get("socket_timeout"), connect_timeout=kwargs.get("socket_connect_timeout"),
        )  # fmt: skip

    async def execute(self, *commands: Sequence[Arg]) -> list[Reply]:
        """Send ``commands`` in one write and return their replies in order.

        Raises :class:`redis.ResponseError` (the first error reply, once every reply is read),
        :class:`redis.ConnectionError` or :class:`redis.TimeoutError`; the commands may or may not
        have run then (as with any Redis client)."""
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._connect()
        replies = await self._wait(connection, connection.send(commands))
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                raise reply
        return replies

    async def _wait(self, connection: _Connection, future: asyncio.Future[list[Reply]]) -> list[Reply]:
        timer = asyncio.get_running_loop().call_later(self._timeout, self._expire, connection)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, connection: _Connection) -> None:
        connection.fail(redis.TimeoutError(f"no reply from Redis within {self._timeout} s"))

    async def _connect(self) -> _Connection:
        async with self._connecting:
            if self._connection is not None and not self._connection.lost:
                return self._connection
            loop = asyncio.get_running_loop()
            try:
                if self._path:
                    opening = loop.create_unix_connection(_Connection, self._path)
                else:
                    context = self._ssl.get() if self._ssl else None
                    opening = loop.create_connection(
                        _Connection, self._host, self._port, ssl=context,
                        server_hostname=self._host if context else None,
                    )  # fmt: skip
                _, connection = await asyncio.wait_for(opening, self._connect_timeout)
            except TimeoutError as exc:
                raise redis.TimeoutError(f"connecting to Redis timed out after {self._connect_timeout} s") from exc
            except OSError as exc:
                raise redis.ConnectionError(f"cannot connect to Redis: {exc}") from exc
            setup: list[tuple[Arg, ...]] = []
            if self._password:
                setup.append(("AUTH", self._username, self._password) if self._username else ("AUTH", self._password))
            if self._db:
                setup.append(("SELECT", self._db))
            if setup:
                try:
                    for command, reply in zip(setup, await self._wait(connection, connection.send(setup)), strict=True):
                        if isinstance(reply, redis.ResponseError):
                            raise redis.AuthenticationError(str(reply)) if command[0] == "AUTH" else reply
                except BaseException:
                    connection.fail(redis.ConnectionError("connection set-up failed"))
                    raise
            self._connection = connection
            return connection

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        if self._connection is not None:
            self._connection.fail(redis.ConnectionError("connection closed by its owner"))
            self._connection = None
