"""Brute-force throttling in Redis: failures counted per subject, then exponential lockouts.

Counters live in Redis so every API replica sees the same figures. A subject (an account, a
client IP, a user's second factor) may fail ``limit`` times within ``window``; the next failure
locks it for ``base_lockout`` seconds. While it has been locked in the last ``strike_memory``
seconds, every further failure locks it again for twice as long as the previous lockout, capped at
``max_lockout``. A locked subject is refused before any credential is checked, so the right
password during a lockout still fails and reveals nothing. Subjects are stored as keyed HMACs
(``core.crypto.blind_index``): Redis never holds an e-mail address or an IP address.
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

# KEYS: failures, lock, strikes. ARGV: limit, window, base, cap, strike memory.
# Returns the seconds of the lockout this failure started, 0 when none.
_FAIL = """
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

    @staticmethod
    def _keys(policy: Policy, subject: str) -> tuple[str, str, str]:
        base = f"{PREFIX}:{policy.name}:{crypto.blind_index(f'{policy.name}:{subject}')}"
        return f"{base}:failures", f"{base}:lock", f"{base}:strikes"

    def locked_for(self, policy: Policy, subject: str) -> int:
        """Seconds until ``subject`` may try again; 0 when it is not locked."""
        remaining = int(self._redis.pttl(self._keys(policy, subject)[1]))
        return math.ceil(remaining / 1000) if remaining > 0 else 0

    def fail(self, policy: Policy, subject: str) -> int:
        """Count a failure; returns the seconds of the lockout it started (0 when none)."""
        keys = self._keys(policy, subject)
        args = [policy.limit, policy.window, policy.base_lockout, policy.max_lockout, policy.strike_memory]
        return int(self._fail(keys=list(keys), args=args))

    def reset(self, policy: Policy, subject: str) -> None:
        """Forget the failures and past lockouts of ``subject`` (after a success)."""
        failures, _, strikes = self._keys(policy, subject)
        self._redis.delete(failures, strikes)
