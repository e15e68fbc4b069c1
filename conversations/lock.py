"""The per-conversation Redis lock: one actor at a time changes a conversation.

The inbound job holds it while it analyses a message and acts on it; an agent's action in the
console or the API (reply, assign, transfer, hand back, close) holds it while it changes the
conversation and commits, so a hand-back never interleaves with the bot answering, nor a reply
with an escalation.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy.orm import Session

from core.errors import Conflict
from core.redis import get_redis
from core.settings import get_settings

#: A lock is released by Redis after this long even if its holder died mid-job.
LOCK_TTL_SECONDS = 120

#: How long a job waits for another job (or an agent action) on the same conversation.
LOCK_WAIT_SECONDS = 60


class ConversationBusy(RuntimeError):
    """The conversation's lock stayed taken (a job fails and RQ retries it)."""


def conversation_lock_name(conversation_id: int) -> str:
    return f"relais:lock:conversation:{conversation_id}"


@contextmanager
def conversation_lock(conversation_id: int, *, wait: float = LOCK_WAIT_SECONDS,
                      ttl: float = LOCK_TTL_SECONDS) -> Iterator[Lock]:
    """Hold the conversation's Redis lock, so two texts a second apart never race.

    Raises :class:`ConversationBusy` when it cannot be taken within ``wait`` seconds.
    """
    lock = get_redis(get_settings()).lock(conversation_lock_name(conversation_id), timeout=ttl,
                                         blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise ConversationBusy(f"conversation {conversation_id} is busy")
    try:
        yield lock
    finally:
        # release checks ownership itself (one round trip); a lock that expired meanwhile is gone
        with contextlib.suppress(LockError):
            lock.release()


#: Deletes each of KEYS still holding ARGV[1] (the batch's token): a lock that expired and was
#: taken by another holder meanwhile is left to it, as ``Lock.release`` does for one.
_RELEASE_OURS = """
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
return 0
"""


@contextmanager
def conversation_locks(conversation_ids: Iterable[int], *, ttl: float = LOCK_TTL_SECONDS) -> Iterator[set[int]]:
    """Take the locks of ``conversation_ids`` without waiting, all in one round trip; yields the ids
    whose lock another holder has (busy), and releases the taken ones in one round trip on exit.

    The same locks as :func:`conversation_lock` (one key and ``SET NX PX`` each), so a batch, a job
    and a person's action exclude each other; what a batch costs Redis no longer grows with it.
    """
    ids = sorted(set(conversation_ids))
    if not ids:
        yield set()
        return
    client = get_redis(get_settings())
    token = uuid.uuid4().hex
    pipe = client.pipeline(transaction=False)
    for conversation_id in ids:
        pipe.set(conversation_lock_name(conversation_id), token, nx=True, px=int(ttl * 1000))
    taken = [conversation_id for conversation_id, ok in zip(ids, pipe.execute(), strict=True) if ok]
    try:
        yield set(ids) - set(taken)
    finally:
        if taken:
            client.register_script(_RELEASE_OURS)(keys=[conversation_lock_name(i) for i in taken], args=[token])


#: How long a person's action waits for the bot (or another action) on the same conversation; the
#: bot holds the lock for one message's analysis, an LLM answer included.
ACTION_WAIT_SECONDS = 30


@contextmanager
def changing(session: Session, conversation_id: int) -> Iterator[None]:
    """Hold the conversation's lock while a person's action changes it, and commit before letting go.

    The commit happens inside the lock so the next holder (the inbound job) reads the change; a
    conversation busy for longer than :data:`ACTION_WAIT_SECONDS` is a :class:`Conflict` (409) the
    client may retry.
    """
    try:
        with conversation_lock(conversation_id, wait=ACTION_WAIT_SECONDS):
            yield
            session.commit()
    except ConversationBusy as exc:
        raise Conflict(f"conversation {conversation_id} is busy (the bot is answering); try again") from exc
