"""The Redis limiter: strict spacing per bucket, shared buckets, refusal beyond the wait limit."""

from __future__ import annotations

import itertools

import redis

from core.redis import get_redis
from core.settings import Settings
from delivery.limiter import RateLimiter, _reply, account_bucket, sender_bucket


def test_slots_are_spaced_by_the_slowest_bucket(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    buckets = (sender_bucket("+33612000000", 50), account_bucket("default", 1000))
    slots = [limiter.reserve(buckets, max_wait=5).slot_us for _ in range(60)]
    gaps = {b - a for a, b in itertools.pairwise(slots)}
    assert gaps == {20_000}  # exactly 1/50 s apart: never closer, never a burst
    in_first_second = sum(1 for s in slots if s - slots[0] < 1_000_000)
    assert in_first_second == 50


def test_the_account_bucket_is_shared_by_senders(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    account = account_bucket("shared", 10)
    first = limiter.reserve((sender_bucket("A", 1000), account), max_wait=5)
    second = limiter.reserve((sender_bucket("B", 1000), account), max_wait=5)
    assert second.slot_us - first.slot_us == 100_000


def test_a_slot_too_far_away_is_refused_not_reserved(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    bucket = (sender_bucket("slow", 1),)
    assert limiter.reserve(bucket, max_wait=0.5).granted
    refused = limiter.reserve(bucket, max_wait=0.5)
    assert not refused.granted and 0.9 < refused.wait <= 1.0
    assert not limiter.reserve(bucket, max_wait=0.5).granted  # the refusal reserved nothing


def test_a_busy_sender_does_not_hold_the_account_for_the_others(runtime: Settings) -> None:
    """Booking the account at a busy sender's later slot leaves the hole before it to a free sender."""
    limiter = RateLimiter(get_redis(runtime))
    account = account_bucket("holes", 1000)
    first = limiter.reserve((sender_bucket("busy", 10), account), max_wait=5)
    later = limiter.reserve((sender_bucket("busy", 10), account), max_wait=5)
    assert later.slot_us - first.slot_us == 100_000  # the busy sender's next slot, 100 ms on
    free = limiter.reserve((sender_bucket("free", 1000), account), max_wait=5)
    assert free.granted and free.slot_us - first.slot_us < 50_000  # not after the busy sender's slot
    assert free.slot_us - first.slot_us >= 1_000  # still 1 ms after the account's previous slot


def test_holes_are_filled_without_breaking_any_bucket_spacing(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    account = account_bucket("mixed", 200)
    senders = [sender_bucket(f"S{i}", 50) for i in range(6)]
    started = _server_time_us(limiter)
    grants = [limiter.reserve((senders[n % 6], account), max_wait=5) for n in range(120)]
    elapsed = _server_time_us(limiter) - started
    account_slots = sorted(g.slot_us for g in grants)
    assert min(b - a for a, b in itertools.pairwise(account_slots)) >= 5_000
    for i in range(6):
        own = sorted(g.slot_us for n, g in enumerate(grants) if n % 6 == i)
        assert min(b - a for a, b in itertools.pairwise(own)) >= 20_000
    # the account ran at its rate: 120 slots 5 ms apart, or as fast as the calls came on a loaded machine
    # (a slot is never before its call, so 120 calls taking longer than 0.6 s spread the slots by as much)
    assert account_slots[-1] - account_slots[0] < max(120 * 5_000, elapsed) + 20_000


def test_offered_several_messages_the_limiter_books_those_whose_slots_come_first(runtime: Settings) -> None:
    """Booked in the order offered, a message whose sender is busy takes the account's later slot and leaves
    a hole before it; offered several, the booking takes the sends that fit the account's next slots and
    leaves the busy sender's message for a later call."""
    limiter = RateLimiter(get_redis(runtime))
    account = account_bucket("choice", 1000)
    busy, free_a, free_b = sender_bucket("busy", 10), sender_bucket("free-a", 10), sender_bucket("free-b", 10)
    assert limiter.reserve((busy, account), max_wait=5).granted  # busy's next slot is 100 ms away
    grants = limiter.reserve_soonest([(busy, account), (free_a, account), (free_b, account)], take=2, max_wait=5)
    assert grants[0] is None  # left for a later call
    assert grants[1] is not None and grants[2] is not None
    assert grants[1].granted and grants[2].granted and grants[1].wait < 0.01 and grants[2].wait < 0.01
    assert grants[2].slot_us - grants[1].slot_us == 1_000  # the account's next two slots, in the order offered


def test_messages_on_the_same_buckets_keep_their_order(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    buckets = (sender_bucket("same", 100), account_bucket("same", 1000))
    grants = limiter.reserve_soonest([buckets] * 5, take=3, max_wait=5)
    booked = [g for g in grants if g is not None]
    assert [g is not None for g in grants] == [True, True, True, False, False]
    assert [b.slot_us - a.slot_us for a, b in itertools.pairwise(booked)] == [10_000, 10_000]


def _server_time_us(limiter: RateLimiter) -> int:
    """Redis's clock in microseconds: the one the limiter's slots are on."""
    seconds, micros = limiter.client.time()
    return int(seconds) * 1_000_000 + int(micros)


def test_a_script_redis_forgot_is_loaded_again(runtime: Settings) -> None:
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    assert limiter.reserve((sender_bucket("flushed", 10),), max_wait=1).granted
    client.script_flush()  # as a Redis restart would
    again = limiter.reserve((sender_bucket("flushed", 10),), max_wait=1, writes=[("journalled", "1", 60)])
    assert again.granted and again.wait > 0.05  # the first slot is still booked: 100 ms apart
    assert client.get("journalled") == b"1" and 0 < client.ttl("journalled") <= 60  # written once, to expire


def test_writes_go_in_the_reservations_one_command_granted_or_not(runtime: Settings) -> None:
    """The delivery engine journals each send with the next reservation: one Redis command per send,
    and the entry is kept even when the slot is refused (too far away)."""
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    bucket = (sender_bucket("slow", 1),)
    assert limiter.reserve(bucket, max_wait=1).granted
    sent: list[tuple[object, ...]] = []
    send = client.execute_command

    def counted(*args: object, **options: object) -> object:
        sent.append(args)
        return send(*args, **options)

    client.execute_command = counted  # type: ignore[method-assign]
    try:
        refused = limiter.reserve(bucket, max_wait=0.1, writes=[("relais:sent:1", "a", 60), ("relais:sent:2", "b", 60)])
    finally:
        del client.execute_command
    assert not refused.granted and refused.wait > 0.5
    assert [args[0] for args in sent] == ["EVALSHA"]
    assert client.mget("relais:sent:1", "relais:sent:2") == [b"a", b"b"]


def _lane_client(settings: Settings) -> redis.Redis:
    """A client like a sending lane's: one connection of its own (``DeliveryEngine._lane_limiter``)."""
    pool = get_redis(settings).connection_pool
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs),
        single_connection_client=True,
    )


def test_a_lane_reserves_on_its_connection_without_redis_py_command_path(runtime: Settings) -> None:
    """redis-py's command path cost a lane twice the round trip: the lane's EVALSHA is packed and read on
    its own connection; spacing, refusals and the writes are the script's as before."""
    lane = _lane_client(runtime)
    limiter = RateLimiter(lane)
    limiter.reserve((sender_bucket("direct", 10),), max_wait=1)  # the script is loaded by this first call

    def refused(*args: object, **options: object) -> object:
        raise AssertionError(f"redis-py's command path ran {args[0]}")

    lane.execute_command = refused  # type: ignore[method-assign]
    try:
        second = limiter.reserve((sender_bucket("direct", 10),), max_wait=1, writes=[("relais:sent:7", "x", 60)])
        far = limiter.reserve((sender_bucket("direct", 10),), max_wait=0.01)
    finally:
        del lane.execute_command
    assert second.granted and 0.05 < second.wait <= 0.1  # 100 ms after the first slot
    assert not far.granted and far.wait > 0.1
    assert get_redis(runtime).get("relais:sent:7") == b"x"
    lane.close()


def test_a_lane_whose_connection_was_killed_or_whose_script_was_forgotten_reserves_again(runtime: Settings) -> None:
    lane = _lane_client(runtime)
    limiter = RateLimiter(lane)
    assert limiter.reserve((sender_bucket("killed", 1000),), max_wait=1).granted
    admin = get_redis(runtime)
    admin.client_kill_filter(_id=str(lane.client_id()))  # as a Redis restart or a proxy's idle timeout would
    assert limiter.reserve((sender_bucket("killed", 1000),), max_wait=1).granted
    admin.script_flush()
    assert limiter.reserve((sender_bucket("killed", 1000),), max_wait=1, writes=[("relais:sent:8", "y", 60)]).granted
    assert admin.get("relais:sent:8") == b"y"
    assert limiter.reserve((sender_bucket("killed", 1000),), max_wait=1).granted
    lane.close()


def test_a_lane_reads_the_reply_off_its_socket_without_redis_py_parser(runtime: Settings) -> None:
    """redis-py's reply parser cost a lane about a sixth of each reservation: the script's reply is read from the
    socket; what the script answers is unchanged (spacing, refusals), and redis-py's buffer is left empty."""
    lane = _lane_client(runtime)
    limiter = RateLimiter(lane)
    first = limiter.reserve((sender_bucket("parsed", 10),), max_wait=1)  # connects and loads the script
    connection = lane.connection
    assert connection is not None

    def refused(*args: object, **options: object) -> object:
        raise AssertionError("redis-py's parser read the reply")

    connection.read_response = refused  # type: ignore[method-assign]
    try:
        second = limiter.reserve((sender_bucket("parsed", 10),), max_wait=1, writes=[("relais:sent:9", "z", 60)])
        far = limiter.reserve((sender_bucket("parsed", 10),), max_wait=0.01)
    finally:
        del connection.read_response
    assert second.granted and second.slot_us - first.slot_us == 100_000
    assert not far.granted and far.wait > 0.1
    assert lane.get("relais:sent:9") == b"z"  # redis-py's own path still reads its replies on the connection
    lane.close()


class _Chunks:
    """A socket handing out a reply a few bytes at a time."""

    def __init__(self, data: bytes, size: int) -> None:
        self._parts = [data[i : i + size] for i in range(0, len(data), size)]

    def recv(self, _: int) -> bytes:
        return self._parts.pop(0) if self._parts else b""


def test_the_reply_reader_waits_for_the_whole_reply_and_refuses_anything_else() -> None:
    reply = b"*3\r\n:1\r\n:-20\r\n:1796044861661152\r\n"
    for size in (1, 2, 5, 64):
        assert _reply(_Chunks(reply, size)) == [1, -20, 1796044861661152]  # type: ignore[arg-type]
    assert _reply(_Chunks(b"-NOSCRIPT No matching script.\r\n", 3)) == "NOSCRIPT No matching script."  # type: ignore[arg-type]
    for other in (
        b">2\r\n$10\r\ninvalidate\r\n_\r\n",
        b"*3\r\n:1\r\n$1\r\nx\r\n:2\r\n",
        b"*2\r\n:1\r\n:2\r\n:3\r\n",
        b"*3\r\n:1\r\n:2\r\n",
        b"*x\r\n",
        b"-ERR a\r\n+OK\r\n",
    ):
        assert _reply(_Chunks(other, 64)) is None, other  # type: ignore[arg-type]


def test_an_idle_calendar_outlives_its_latest_slot_when_a_hole_is_booked(runtime: Settings) -> None:
    """The time to live is set from the calendar's latest booking, not from the slot just booked: a hole
    booked now must not let the account's calendar expire before a slot booked later, which a caller
    would then book again too close."""
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    account = account_bucket("ttl", 1000)
    first = limiter.reserve((sender_bucket("one-a-second", 1), account), max_wait=5)
    later = limiter.reserve((sender_bucket("one-a-second", 1), account), max_wait=5)
    assert later.granted and later.slot_us - first.slot_us == 1_000_000
    hole = limiter.reserve((sender_bucket("free", 1000), account), max_wait=5)
    assert hole.granted and hole.slot_us < later.slot_us
    assert client.pttl(account.key) > (later.slot_us - hole.slot_us) // 1000 + 500  # ~1 s past the latest slot
    assert client.pttl(sender_bucket("free", 1000).key) <= 1_001  # a calendar with one slot: a second past it


def test_slots_no_booking_can_touch_are_dropped(runtime: Settings) -> None:
    """Each calendar is read once per call over the slots that matter; the stale ones do not pile up."""
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    bucket = sender_bucket("fast", 1_000_000)  # 1 µs apart: every slot is stale by the next call
    grants = [limiter.reserve((bucket,), max_wait=1) for _ in range(1_500)]
    assert all(g.granted for g in grants)
    assert client.zcard(bucket.key) < 200  # 1,500 without any trimming


def test_several_messages_booked_in_one_command_keep_every_bucket_spacing(runtime: Settings) -> None:
    """A lane books its next few messages at once: in order, as if one after the other; a refused one books
    nothing and does not stop the next; with no message the command only writes."""
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    account = account_bucket("many", 100)  # 10 ms apart
    slow = sender_bucket("slow-many", 1)
    grants = limiter.reserve_many(
        [(sender_bucket("a", 1000), account), (slow, account), (slow, account), (sender_bucket("b", 1000), account)],
        max_wait=0.5, writes=[("relais:sent:many", "x", 60)],
    )
    assert [g.granted for g in grants] == [True, True, False, True]
    assert grants[1].slot_us - grants[0].slot_us == 10_000
    assert 1.0 < grants[2].wait <= 1.02  # the slow sender's next slot, a second after its first: refused
    assert grants[3].slot_us - grants[1].slot_us == 10_000  # right after the last booked slot
    assert client.zcard(slow.key) == 1 and client.zcard(account.key) == 3
    assert client.get("relais:sent:many") == b"x"
    assert limiter.reserve_many([], max_wait=0.5, writes=[("relais:sent:only", "y", 60)]) == []
    assert client.get("relais:sent:only") == b"y" and client.zcard(account.key) == 3
    one = limiter.reserve((sender_bucket("c", 1000), account), max_wait=0.5)
    assert one.granted and one.slot_us - grants[3].slot_us >= 10_000
