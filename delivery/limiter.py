"""A Redis rate limiter shared by every worker: strict spacing per sender and per provider account.

Each grant reserves, atomically (one Lua script, so workers on several hosts never race), the
earliest moment at which every bucket it names is free. A bucket's slots are at least ``1/rate``
seconds apart, which is a token bucket of depth one (GCRA): in any 1-second window a bucket hands
out at most ``rate`` grants, never a burst above it, and a saturated bucket runs at exactly ``rate``.
Time comes from the Redis server (``TIME``), so worker clocks do not matter.

A bucket is a calendar of its booked slots (a sorted set), not one "next free" time: a message
whose sender is busy for the next 9 ms books the account at that later slot, and a message for a
free sender can still take the account's slot now, in the hole before it. With a single "next
free" time per bucket, the later booking pushed the shared account past every earlier hole, so one
busy short code stalled all the others (12 short codes at 100 msg/s each ran at ~190 msg/s in
all, not 1,200). Slots that no new booking can touch any more are dropped on each call.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import redis
from redis.exceptions import NoScriptError

#: a key to SET with the reservation: (key, value, time to live in seconds)
Write = tuple[str, str, int]
#: the revocation markers that hold a candidate, each (key, level at or above which it holds): see
#: :mod:`core.revocations`
Holds = tuple[tuple[str, int], ...]

# One call books slots for up to ``take`` of several candidate messages, the soonest first (a lane offers
# its next few sends and books those whose slots come first: one round trip for them, where each costs the
# server and the worker more in system calls and wake-ups than the script's own work). A candidate named by
# a revocation marker (:mod:`core.revocations`: its campaign paused or cancelled, its contact opted out...)
# is held, not booked: the last check before the provider call, in the same round trip. A bucket a provider
# asked to slow down (:meth:`RateLimiter.pause`, the hash :data:`PAUSES`) books no slot before its pause ends.
# KEYS: every candidate's buckets' sorted sets in turn (a bucket may repeat), then every candidate's marker keys
# in turn, then the pause hash, then the keys to write. ARGV[1]: the longest wait (µs); ARGV[2]: how many
# writes; ARGV[3]: how many candidates; ARGV[4]: how many to book; ARGV[5]: how many marker keys; ARGV[5 + m]:
# how many buckets candidate m names; ARGV[5 + nmsg + m]: how many marker keys; then each bucket key's interval (µs), in
# KEYS' order; then each marker key's level (a marker at this level or above holds); then each write's value
# and time to live (s). The reply, per candidate: (status, wait µs, slot µs), status 1 booked, 0 refused (its
# slot beyond the longest wait), -1 left for a later call, -2 held by a marker (nothing booked), -3 refused while
# a bucket of it is paused.
# Lua numbers are doubles: µs since the epoch (~1.8e15) are exact, but must be formatted with %d.
_SCRIPT = """
local max_wait = tonumber(ARGV[1])
local writes = tonumber(ARGV[2])
local nmsg = tonumber(ARGV[3])
local take = tonumber(ARGV[4])
local nh = tonumber(ARGV[5])
local nb = #KEYS - writes - nh - 1
local iv0 = 5 + 2 * nmsg
local lv0 = iv0 + nb
local wv = lv0 + nh
for j = 1, writes do
  redis.call('SET', KEYS[nb + nh + 1 + j], ARGV[wv + 2 * j - 1], 'EX', ARGV[wv + 2 * j])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fmt(x) return string.format('%d', x) end
-- each calendar read once per call, from now - its interval to the horizon, kept sorted as slots are booked
local cals, ivs, order, latest, new = {}, {}, {}, {}, {}
for i = 1, nb do
  local key = KEYS[i]
  if cals[key] == nil then
    local iv = tonumber(ARGV[iv0 + i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - iv))
    local cal = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(now - iv), fmt(now + max_wait + iv))
    for j = 1, #cal do cal[j] = tonumber(cal[j]) end
    cals[key] = cal
    ivs[key] = iv
    order[#order + 1] = key
  end
end
-- a paused bucket's first free slot is its pause's end (one HMGET for the call's buckets)
local floors = {}
if #order > 0 then
  local ends = redis.call('HMGET', KEYS[nb + nh + 1], unpack(order))
  for i = 1, #order do
    local stop = tonumber(ends[i] or '')
    if stop ~= nil and stop > now then floors[order[i]] = stop end
  end
end
-- the earliest t >= from that is at least iv away from every slot booked in cal (sorted): the scan starts
-- at the first slot that can be within iv of from, found by bisection
local function earliest(cal, iv, from)
  local lo, hi = 1, #cal + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cal[mid] > from - iv then hi = mid else lo = mid + 1 end
  end
  local slot = from
  for j = lo, #cal do
    local booked = cal[j]
    if booked >= slot + iv then return slot end
    if booked + iv > slot then slot = booked + iv end
  end
  return slot
end
-- candidate m's buckets are KEYS[firsts[m] + 1 .. firsts[m] + counts[m]]; sigs[m] names them all
local firsts, counts, sigs, status, waits, slots = {}, {}, {}, {}, {}, {}
local first = 0
local hfirst = 0
for m = 1, nmsg do
  local count = tonumber(ARGV[5 + m])
  firsts[m], counts[m] = first, count
  local names = {}
  for i = first + 1, first + count do names[#names + 1] = KEYS[i] end
  sigs[m] = table.concat(names, ' ')
  status[m], waits[m], slots[m] = -1, 0, 0
  first = first + count
  for h = hfirst + 1, hfirst + tonumber(ARGV[5 + nmsg + m]) do
    local marker = tonumber(redis.call('GET', KEYS[nb + h]) or '')
    if marker ~= nil and marker >= tonumber(ARGV[lv0 + h]) then status[m] = -2 end
  end
  hfirst = hfirst + tonumber(ARGV[5 + nmsg + m])
end
-- the earliest slot free in every bucket of candidate m; false when none within the longest wait
local function slot_of(m)
  local slot = now
  for round = 1, 64 do
    local settled = true
    for i = firsts[m] + 1, firsts[m] + counts[m] do
      local key = KEYS[i]
      local from = slot
      if floors[key] ~= nil and floors[key] > from then from = floors[key] end
      local free = earliest(cals[key], ivs[key], from)
      if free > slot then slot = free; settled = false end
    end
    if slot - now > max_wait then return slot, false end
    if settled then return slot, true end
  end
  return slot, false
end
for pick = 1, take do
  -- the soonest candidate (ties to the first offered: two sends on the same buckets keep their order)
  local best, best_slot, best_ok = nil, 0, false
  local known = {}
  for m = 1, nmsg do
    if status[m] == -1 then
      local found = known[sigs[m]]
      if found == nil then
        local slot, ok = slot_of(m)
        found = {slot, ok}
        known[sigs[m]] = found
      end
      if best == nil or found[1] < best_slot then best, best_slot, best_ok = m, found[1], found[2] end
    end
  end
  if best == nil then break end
  waits[best], slots[best] = best_slot - now, best_slot
  if best_ok then
    status[best] = 1
    for i = firsts[best] + 1, firsts[best] + counts[best] do
      local key = KEYS[i]
      local cal = cals[key]
      local at = #cal + 1
      while at > 1 and cal[at - 1] > best_slot do at = at - 1 end
      table.insert(cal, at, best_slot)
      if latest[key] == nil then latest[key] = best_slot; new[key] = {} end
      if best_slot > latest[key] then latest[key] = best_slot end
      local add = new[key]
      add[#add + 1] = fmt(best_slot); add[#add + 1] = fmt(best_slot)
    end
  else
    status[best] = 0
    for i = firsts[best] + 1, firsts[best] + counts[best] do
      if floors[KEYS[i]] ~= nil then status[best] = -3 end
    end
  end
end
local reply = {}
for m = 1, nmsg do
  reply[#reply + 1] = status[m]
  reply[#reply + 1] = waits[m]
  reply[#reply + 1] = slots[m]
end
for _, key in ipairs(order) do
  local slot = latest[key]
  if slot ~= nil then
    redis.call('ZADD', key, unpack(new[key]))
    local ttl = math.floor((slot - now + ivs[key]) / 1000) + 1000
    if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end
return reply
"""


@dataclass(frozen=True)
class Bucket:
    """One limit: a Redis key and its rate in grants per second."""

    key: str
    rate: float

    @property
    def interval_us(self) -> int:
        # rounded up: a bucket may run a hair slower than its rate, never faster
        return math.ceil(1_000_000 / self.rate)


#: the pauses a provider asked for: bucket key → the pause's end (µs, Redis server time)
PAUSES = "relais:rate:paused"

# Pause a bucket until ARGV[2] µs from now, unless it already is for longer; drop the pauses that ended (the hash
# stays as small as the pauses in force) and keep the hash as long as its last pause. Returns the pause's end.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stop = now + tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
if current ~= nil and current > stop then stop = current end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', stop))
local all = redis.call('HGETALL', KEYS[1])
local last = stop
for i = 1, #all, 2 do
  local ends = tonumber(all[i + 1]) or 0
  if ends <= now then redis.call('HDEL', KEYS[1], all[i]) elseif ends > last then last = ends end
end
redis.call('PEXPIRE', KEYS[1], math.floor((last - now) / 1000) + 1000)
return stop
"""


def sender_bucket(address: str, rate: float) -> Bucket:
    return Bucket(f"relais:rate:sender:{address}", rate)


def account_bucket(name: str, rate: float) -> Bucket:
    return Bucket(f"relais:rate:account:{name}", rate)


def _bulk(word: str | int) -> bytes:
    data = str(word).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


@lru_cache(maxsize=4096)
def _bucket_words(bucket: Bucket) -> tuple[bytes, bytes]:
    """A bucket's key and interval in RESP, packed once (a lane names the same few buckets all day)."""
    return _bulk(bucket.key), _bulk(bucket.interval_us)


@lru_cache(maxsize=64)
def _head(sha: str, words: int, keys: int) -> bytes:
    return b"*%d\r\n" % words + _bulk("EVALSHA") + _bulk(sha) + _bulk(keys)


_PAUSES_WORD = _bulk(PAUSES)


def _packed(sha: str, requests: Sequence[tuple[Bucket, ...]], take: int, max_wait_us: int,
            writes: Sequence[Write], holds: Sequence[Holds]) -> bytes:
    """The reservation's EVALSHA in RESP (the script's KEYS and ARGV as :data:`_SCRIPT` reads them), each
    bucket's words packed once (:func:`_bucket_words`), the rest each time."""
    buckets = [_bucket_words(b) for request in requests for b in request]
    markers = [marker for held in holds for marker in held]
    keys = len(buckets) + len(markers) + 1 + len(writes)
    words = 3 + keys + 5 + 2 * len(requests) + len(buckets) + len(markers) + 2 * len(writes)
    return b"".join((
        _head(sha, words, keys),
        *(key for key, _ in buckets),
        *(_bulk(key) for key, _ in markers),
        _PAUSES_WORD,
        *(_bulk(key) for key, _, _ in writes),
        _bulk(max_wait_us), _bulk(len(writes)), _bulk(len(requests)), _bulk(take), _bulk(len(markers)),
        *(_bulk(len(request)) for request in requests),
        *(_bulk(len(held)) for held in holds),
        *(interval for _, interval in buckets),
        *(_bulk(level) for _, level in markers),
        *(part for _, value, ttl in writes for part in (_bulk(value), _bulk(ttl))),
    ))


def _keys_and_args(requests: Sequence[tuple[Bucket, ...]], take: int, max_wait_us: int,
                   writes: Sequence[Write], holds: Sequence[Holds]) -> tuple[list[str], list[str | int]]:
    """The script's KEYS and ARGV, for redis-py's own command path."""
    buckets = [b for request in requests for b in request]
    markers = [marker for held in holds for marker in held]
    keys = [b.key for b in buckets] + [key for key, _ in markers] + [PAUSES] + [key for key, _, _ in writes]
    args: list[str | int] = [max_wait_us, len(writes), len(requests), take, len(markers),
                             *(len(r) for r in requests), *(len(held) for held in holds),
                             *(b.interval_us for b in buckets), *(level for _, level in markers)]
    for _, value, ttl in writes:
        args += [value, ttl]
    return keys, args


_REPLY_BYTES = 4096


def _reply(sock: socket.socket) -> list[int] | str | None:
    """Read one reply of the script from ``sock``: its array of integers, the text of an error reply, or
    ``None`` for a connection closed or anything else (a push message, another type), which the caller
    treats as a broken connection. Reads until the reply is complete, and never past it (nothing else is
    in flight on the connection)."""
    data = sock.recv(_REPLY_BYTES)
    while data:
        if data[:1] == b"-":
            if data.endswith(b"\r\n"):
                return data[1:-2].decode("utf-8", "replace") if data.count(b"\r\n") == 1 else None
        elif data[:1] != b"*":
            return None
        elif b"\r\n" in data:
            lines = data.split(b"\r\n")
            count = int(lines[0][1:]) if lines[0][1:].isdigit() else -1
            if count < 0:
                return None
            if len(lines) > count + 2 or (len(lines) == count + 2 and lines[-1]):
                return None
            if len(lines) == count + 2:
                numbers = [line[1:] for line in lines[1:-1] if line[:1] == b":"]
                if len(numbers) != count or not all(n.lstrip(b"-").isdigit() for n in numbers):
                    return None
                return [int(n) for n in numbers]
        more = sock.recv(_REPLY_BYTES)
        if not more:
            return None
        data += more
    return None


@dataclass(frozen=True)
class Grant:
    """``granted``: a slot is reserved ``wait`` seconds from now; else the next slot is ``wait`` away.

    ``slot_us`` is the slot in Redis server time (µs since the epoch), for measurements. ``held``: a
    revocation marker names the message (:mod:`core.revocations`); nothing was booked, it must not be sent.
    ``paused``: refused while a provider's pause of one of its buckets holds (:meth:`RateLimiter.pause`).
    """

    granted: bool
    wait: float
    slot_us: int
    held: bool = False
    paused: bool = False


_HELD = Grant(False, 0.0, 0, held=True)


def _grant(status: int, wait_us: int, slot_us: int) -> Grant | None:
    """A candidate's grant from the script's (status, wait, slot); ``None`` when left for a later call."""
    if status == -2:
        return _HELD
    if status == -3:
        return Grant(False, wait_us / 1_000_000, slot_us, paused=True)
    return None if status < 0 else Grant(bool(status), wait_us / 1_000_000, slot_us)


class RateLimiter:
    """Reserve send slots; thread-safe (one Redis client, one registered script)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._pause = client.register_script(_PAUSE)

    @property
    def client(self) -> redis.Redis:
        """The Redis client the reservations go through."""
        return self._client

    def reserve(self, buckets: tuple[Bucket, ...], *, max_wait: float, writes: Sequence[Write] = ()) -> Grant:
        """Reserve the next slot free in every bucket, unless it is more than ``max_wait`` s away.

        ``writes`` (key, value, time to live in seconds) are SET first, granted or not, by the same
        script: one command for both (a pipeline of a SET and the script cost a send worker 80 µs of
        processor time against 48 for the script alone).
        """
        return self.reserve_many([buckets], max_wait=max_wait, writes=writes)[0]

    def reserve_many(self, requests: Sequence[tuple[Bucket, ...]], *, max_wait: float,
                     writes: Sequence[Write] = ()) -> list[Grant]:
        """:meth:`reserve` for several messages in one command: each request (a message's buckets) is booked
        as if reserved one after the other at the same moment, the soonest first (two requests naming the
        same buckets get slots at least their interval apart, in order); a refused one books nothing.
        ``writes`` are SET first, as for :meth:`reserve` (with no request the command only writes them).
        """
        grants = self.reserve_soonest(requests, take=len(requests), max_wait=max_wait, writes=writes)
        return [grant for grant in grants if grant is not None]

    def reserve_soonest(self, candidates: Sequence[tuple[Bucket, ...]], *, take: int, max_wait: float,
                        writes: Sequence[Write] = (), holds: Sequence[Holds] = ()) -> list[Grant | None]:
        """Book ``take`` of the ``candidates`` (each a message's buckets), those whose slots come soonest,
        in one command; ``None`` for a candidate left for a later call.

        ``holds`` (one per candidate, or none at all): the revocation markers that hold each; a candidate a
        marker holds is not booked and gets a ``held`` grant (the last word before the provider call on a
        pause or an opt-out committed after the claim, in the same round trip).

        Why choose: two strict-spacing limits at the same total rate (twelve short codes at 100 msg/s on an
        account at 1,200) waste the shared one's slots when messages are booked in a fixed order. A sender
        whose next slot collides with the account's booked ones is pushed back, its phase drifts, and the
        account's holes too short for a slot add up (a lane simulation on the real Redis: 91–93 % of the stated
        rate). Offered a few messages for different senders, the booking takes whichever fits the account's
        next free slot. Candidates on the same buckets keep their order (ties go to the first offered).
        The writes are SET first, as for :meth:`reserve`.
        """
        max_wait_us = int(max_wait * 1_000_000)
        take = min(take, len(candidates))
        holds = holds or [()] * len(candidates)
        if len(holds) != len(candidates):
            raise ValueError("holds names one tuple of markers per candidate")
        try:
            # EVALSHA itself: the registered Script asks SCRIPT EXISTS first when it has not run in
            # this client. Redis forgets scripts on restart or SCRIPT FLUSH: then nothing ran, and
            # the script is loaded and run (writes included) once.
            reply = self._direct(_packed(self._script.sha, candidates, take, max_wait_us, writes, holds))
            if reply is None:
                keys, args = _keys_and_args(candidates, take, max_wait_us, writes, holds)
                reply = self._client.evalsha(self._script.sha, len(keys), *keys, *args)
        except NoScriptError:
            keys, args = _keys_and_args(candidates, take, max_wait_us, writes, holds)
            reply = self._script(keys=keys, args=args)
        return [_grant(int(reply[i]), int(reply[i + 1]), int(reply[i + 2])) for i in range(0, len(reply), 3)]

    def _direct(self, packed: bytes) -> list[int] | None:
        """EVALSHA (packed by :func:`_packed`) on a single-connection client's own connection: redis-py's
        command path (packing every argument through its encoder, the retry wrapper, its metrics hooks)
        cost a send lane about twice the round trip itself (in process: ~70-100 vs ~25-35 µs of processor
        time per reservation), and its reply parser (a buffer, a Python call per line of the reply and a
        check for push messages) half of what was left: the reply is read from the socket here
        (:func:`_reply`) when redis-py's buffer holds nothing unread. ``None`` when the client is pooled, or
        the connection failed or answered something else than the script's (then redis-py's own path
        reconnects and retries; at worst a second slot is booked, and the writes are idempotent).

        Raises the error the script answered (``NoScriptError`` when Redis forgot it), as redis-py would.
        """
        connection = self._client.connection
        if connection is None:
            return None
        with self._client.single_connection_lock:
            sock = connection._sock
            buffer = getattr(connection._parser, "_buffer", None)  # a Python parser's (not hiredis')
            interval = connection.health_check_interval
            if (sock is None or buffer is None or buffer.unread_bytes()
                    or (interval and time.monotonic() > connection.next_health_check)):  # fmt: skip
                try:  # not connected, idle long enough for redis-py's health check, or bytes unread: its own path
                    connection.send_packed_command([packed])
                    reply: list[int] = connection.read_response()
                except (redis.ConnectionError, redis.TimeoutError):
                    connection.disconnect()
                    return None
                return reply
            try:
                sock.sendall(packed)
                answer = _reply(sock)
            except OSError:  # the connection broke, or the read timed out
                answer = None
            except BaseException:  # interrupted half way: the reply would be read as the next one's
                connection.disconnect()
                raise
            if answer is None:
                connection.disconnect()
                return None
            if interval:  # as redis-py after a reply: the next health check is due after that long idle
                connection.next_health_check = time.monotonic() + interval
            if isinstance(answer, str):
                raise connection._parser.parse_error(answer)
            return answer

    def pause(self, bucket: Bucket, seconds: float) -> float:
        """Book nothing in ``bucket`` for ``seconds`` from now (Redis time), for every worker on every host: a
        provider answered "slow down" and the next messages would meet the same wall. A longer pause in force is
        kept. Returns the pause's end, in seconds since the epoch."""
        stop = self._pause(keys=[PAUSES], args=[bucket.key, max(int(seconds * 1_000_000), 0)])
        return int(stop) / 1_000_000

    def pauses(self) -> dict[str, float]:
        """The pauses in force: bucket key → seconds left (for the operator: what a provider holds back)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.time()
        pipe.hgetall(PAUSES)
        (seconds, micros), ends = pipe.execute()
        now = seconds * 1_000_000 + micros
        left = {(k.decode() if isinstance(k, bytes) else str(k)): (int(v) - now) / 1_000_000 for k, v in ends.items()}
        return {key: wait for key, wait in left.items() if wait > 0}

    def acquire(self, buckets: tuple[Bucket, ...], *, max_wait: float, writes: Sequence[Write] = ()) -> Grant:
        """:meth:`reserve`, then sleep until the slot when granted (the caller sends right after)."""
        grant = self.reserve(buckets, max_wait=max_wait, writes=writes)
        if grant.granted and grant.wait > 0:
            time.sleep(grant.wait)
        return grant
