"""Taking the next job in one round trip to Redis when one is waiting.

RQ's worker takes a job in two: ``BLPOP`` over its queues for an id, then ``HGETALL`` of the job. Under
a backlog (a campaign's send batches, a burst of inbound texts) the wait never blocks, so one script
pops the first id of the first non-empty queue, in priority order as ``BLPOP`` would, and returns the
job's hash with it. When every queue is empty it answers nothing and RQ's blocking wait runs as before:
an idle worker pays one more round trip before it sleeps, a busy one one fewer per job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from redis.commands.core import Script
from rq import Queue
from rq.job import Job
from rq.utils import as_text

# KEYS: the queues in priority order; ARGV[1]: the job keys' prefix. Returns {queue key, job id, job hash}
# (the hash empty when the job was deleted while queued), or false when every queue is empty.
POP_AND_FETCH = """
for _, queue_key in ipairs(KEYS) do
    local job_id = redis.call('LPOP', queue_key)
    if job_id then
        return {queue_key, job_id, redis.call('HGETALL', ARGV[1] .. job_id)}
    end
end
return false
"""
_script = Script(None, POP_AND_FETCH.encode())  # type: ignore[arg-type]  # bytes: no client needed to hash it


class PrefetchingQueue(Queue):
    """RQ's ``Queue`` whose ``dequeue_any`` (what a worker waits with) pops and fetches in one round trip."""

    @classmethod
    def dequeue_any(
        cls,
        queues: Iterable[Queue],
        timeout: int | None,
        connection: redis.Redis,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> tuple[Job, Queue] | None:
        """The first job of the first non-empty queue with its queue, as RQ's; RQ's own wait (its
        ``BLPOP``, or for a single queue its ``BLMOVE`` to an intermediate list) when none is waiting."""
        queues = list(queues)
        if len(queues) > 1:
            keys = [queue.key for queue in queues]
            while found := _script(keys=keys, args=[Job.redis_job_namespace_prefix], client=connection):
                queue_key, job_id, fields = found
                if not fields:  # deleted while queued: RQ skips it too
                    continue
                job_cls = job_class or Job
                job = job_cls(as_text(job_id), connection=connection, serializer=serializer)
                job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
                queue = cls.from_queue_key(as_text(queue_key), connection=connection, job_class=job_cls,
                                           serializer=serializer, death_penalty_class=death_penalty_class)  # fmt: skip
                return job, queue
        return super().dequeue_any(queues, timeout, connection=connection, job_class=job_class,
                                   serializer=serializer, death_penalty_class=death_penalty_class)  # fmt: skip
