"""Brute-force throttling in Redis: failures counted per subject, then exponential lockouts.

Counters live in Redis so every API replica sees the same figures. A subject (an account, a
client IP, a user's second factor) may fail ``limit`` times within ``window``; the next failure
locks it for ``base_lockout`` seconds. While it has been locked in the last ``strike_memory``
seconds, every further failure locks it again for twice as long as the previous lockout, capped at
``max_lockout``. A locked subject is refused before any credential is checked, so the right
password during a lockout still fails and reveals nothing. Subjects are stored as keyed HMACs
(``core.crypto.blind_index``): Redis never holds an e-mail address or an IP address.

Each attempt is **claimed** before its credential is checked (:meth:`Throttle.claim`) and ends as a
failure (:meth:`Throttle.fail`) or a success (:meth:`Throttle.release`). Attempts in flight count
against the room left before the lockout, so requests sent in parallel cannot all be checked before
the first of them is counted: a lock checked, then a failure counted after a 100 ms password hash,
let dozens of simultaneous guesses through where five were allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

from core import crypto

PREFIX = "relais:throttle"


@dataclass(frozen=True)
class Policy:
    """How many failures a kind of subject may have, and how long it is locked afterwards."""

    name: str
    limit: int
    window: int  # seconds the failure count is kept
    base_lockout: int  # seconds of the first lockout
    max_lockout: int
    strike_memory: int = 24 * 3600  # seconds a past lockout makes the next one longer


# ASVS 2.2.1: far below 100 failed attempts an hour on one account
ACCOUNT = Policy("account", limit=5, window=15 * 60, base_lockout=30, max_lockout=3600)
# one address may try many accounts (an office behind NAT), so its limit is higher
CLIENT_IP = Policy("ip", limit=50, window=15 * 60, base_lockout=60, max_lockout=3600)
# TOTP and recovery codes of one user, whatever the session
SECOND_FACTOR = Policy("2fa", limit=5, window=15 * 60, base_lockout=30, max_lockout=3600)

#: seconds an attempt in flight is remembered if its request dies before it fails or succeeds
IN_FLIGHT_TTL = 60
#: milliseconds to wait when the attempts in flight already take the room left (they end within a second)
BUSY_MS = 1000

# KEYS: failures, lock, strikes, in flight. ARGV: limit, in-flight ttl, busy ms.
# Returns the milliseconds to wait (locked, or the room is taken by attempts in flight), 0 when claimed.
_CLAIM = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return wait end
local room = tonumber(ARGV[1]) - tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then room = 1 end
local flying = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[2])
if flying > room then
  redis.call('DECR', KEYS[4])
  return tonumber(ARGV[3])
end
return 0
"""
_LANDED = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
"""

# KEYS: failures, lock, strikes, in flight. ARGV: limit, window, base, cap, strike memory.
# Returns the seconds of the lockout this failure started, 0 when none.
_FAIL = """
if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then redis.call('DECR', KEYS[4]) end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local strikes = tonumber(redis.call('GET', KEYS[3]) or '0')
if failures < tonumber(ARGV[1]) and strikes == 0 then return 0 end
strikes = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local seconds = math.min(tonumber(ARGV[3]) * 2 ^ (strikes - 1), tonumber(ARGV[4]))
redis.call('SET', KEYS[2], '1', 'EX', seconds)
redis.call('DEL', KEYS[1])
return seconds
"""


class Throttle:
    """Failure counters and lockouts shared by every process through one Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._fail = client.register_script(_FAIL)
        self._claim = client.register_script(_CLAIM)
        self._landed = client.register_script(_LANDED)

    @staticmethod
    def _keys(policy: Policy, subject: str) -> tuple[str, str, str, str]:
        base = f"{PREFIX}:{policy.name}:{crypto.blind_index(f'{policy.name}:{subject}')}"
        return f"{base}:failures", f"{base}:lock", f"{base}:strikes", f"{base}:flying"

    def claim(self, policy: Policy, subject: str) -> int:
        """Count an attempt about to be checked; returns 0 when it may go on, else the seconds to wait
        (``subject`` is locked, or the attempts in flight already take the failures it has left).
        Every claim ends with :meth:`fail` or :meth:`release`."""
        args = [policy.limit, IN_FLIGHT_TTL, BUSY_MS]
        waiting = int(self._claim(keys=list(self._keys(policy, subject)), args=args))
        return math.ceil(waiting / 1000) if waiting > 0 else 0

    def release(self, policy: Policy, subject: str) -> None:
        """End a claimed attempt that did not fail."""
        self._landed(keys=[self._keys(policy, subject)[3]])

    def locked_for(self, policy: Policy, subject: str) -> int:
        """Seconds until ``subject`` may try again; 0 when it is not locked."""
        remaining = int(self._redis.pttl(self._keys(policy, subject)[1]))
        return math.ceil(remaining / 1000) if remaining > 0 else 0

    def fail(self, policy: Policy, subject: str) -> int:
        """Count a failure (ending its claimed attempt); returns the seconds of the lockout it started (0 when none)."""
        keys = self._keys(policy, subject)
        args = [policy.limit, policy.window, policy.base_lockout, policy.max_lockout, policy.strike_memory]
        return int(self._fail(keys=list(keys), args=args))

    def reset(self, policy: Policy, subject: str) -> None:
        """Forget the failures and past lockouts of ``subject`` (after a success)."""
        failures, _, strikes, _ = self._keys(policy, subject)
        self._redis.delete(failures, strikes)
