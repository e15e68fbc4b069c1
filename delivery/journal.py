"""The send journal: each provider acceptance is written to Redis by the sending lane's next limiter
command (:meth:`delivery.limiter.RateLimiter.reserve_many`), a few sends after the call returns at most,
and always before the batch records its sends.

A worker killed after the provider accepted a batch but before its database commit leaves rows in
``sending``; recovery reads the journal and records those sends instead of sending them again (an
acceptance not yet written is left to the provider's delivery report within the claim's lease).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis

from channels.base import SendResult

TTL_SECONDS = 7 * 24 * 3600


def _key(message_id: int) -> str:
    return f"relais:sent:{message_id}"


def entry(message_id: int, result: SendResult) -> tuple[str, str, int]:
    """The journal's (key, value, time to live) for an accepted send, for a caller that writes it in
    a command of its own (the delivery engine, with its next limiter reservation)."""
    payload = {
        "provider": result.provider,
        "provider_message_id": result.provider_message_id,
        "segments": result.segments,
        "encoding": result.encoding,
        "part_ids": list(result.part_ids),
        "price_micros": result.price_micros,
    }
    return _key(message_id), json.dumps(payload), TTL_SECONDS


def read(client: redis.Redis, message_ids: Iterable[int]) -> dict[int, SendResult]:
    ids = list(message_ids)
    if not ids:
        return {}
    found: dict[int, SendResult] = {}
    for message_id, raw in zip(ids, client.mget([_key(i) for i in ids]), strict=True):
        if raw is not None:
            data: dict[str, Any] = json.loads(raw)
            found[message_id] = SendResult(
                provider=data["provider"],
                provider_message_id=data["provider_message_id"],
                segments=data["segments"],
                encoding=data["encoding"],
                part_ids=tuple(data["part_ids"]),
                price_micros=data["price_micros"],
            )
    return found


def forget(client: redis.Redis, message_ids: Iterable[int]) -> None:
    keys = [_key(i) for i in message_ids]
    if keys:
        client.delete(*keys)
