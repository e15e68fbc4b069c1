"""Stored inbound events taken in and answered in one batch: messages, analysis, replies.

The webhook only stores an event (``conversations.flows.stage_inbound``); the ingest job hands
the announced events here a batch at a time. In ONE transaction (the caller's) every event becomes
its contact, thread and message (``conversations.flows.ingest_events``: one statement per kind for
the batch, not per text), the messages are analysed
together (``agent.inbound.handle_batch``: one pipeline call per round, one round per text of a
contact) and acted on, and the replies are held for the caller to hand to the delivery engine
right after the commit instead of one send job each. So a text costs no RQ job of its own.

What is kept from the one-job-per-text path:

* **Persisted before processing**: the event was committed by the webhook; it is marked processed
  in the same transaction as its message and answer, so a batch that fails or dies leaves its
  events unprocessed: the caller takes them in again one by one
  (:func:`conversations.flows.ingest_event` with the job per message), else the inbound sweep does.
* **One at a time per conversation**: the conversations' locks are taken without waiting (one
  Redis round trip for the batch, ``conversations.lock.conversation_locks``); a
  conversation that is busy (an agent acting, another batch) gets its message's own job
  (``process_inbound``), which waits for the lock and is retried. The caller releases the locks
  after the commit, so the next holder reads this batch's answers. A conversation's texts within a
  batch are answered in arrival order, each seeing the earlier ones.
* **Idempotent**: an event already processed yields no message; a message with a decision is not
  analysed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.inbound import handle_batch
from conversations import flows
from conversations.lock import conversation_locks
from conversations.models import InboundEvent


@dataclass
class Intake:
    """What a batch did: per message what was done, those left to their own job, the held replies."""

    handled: dict[int, str] = field(default_factory=dict)
    queued: list[int] = field(default_factory=list)
    sends: dict[str, list[int]] = field(default_factory=dict)


def take_in(session: Session, event_ids: Sequence[int], *, locks: ExitStack,
            now: datetime | None = None) -> Intake:
    """Turn stored events ``event_ids`` into messages and answer them, in ``session``'s transaction.

    Args:
        locks: where the conversations' locks are entered; the caller closes it after committing
            ``session`` (never before: the next holder must read what this batch did).
        now: the moment of acting (UTC), for business hours.

    Returns the :class:`Intake`; its ``sends`` (outbound ids per lane) must be sent, or their send
    jobs queued, by the caller once the transaction has committed (``flows.send_held``).
    """
    flows.hold_sends(session)
    intake = Intake()
    events = session.scalars(select(InboundEvent).where(InboundEvent.id.in_(list(event_ids)))).all()
    messages = flows.ingest_events(session, events)
    busy = locks.enter_context(conversation_locks(m.conversation_id for m in messages if m.conversation_id is not None))
    ready = []
    for message in messages:
        if message.conversation_id in busy:
            flows.queue_analysis(session, message)
            intake.queued.append(message.id)
        else:
            ready.append(message.id)
    intake.handled = handle_batch(session, ready, now=now)
    intake.sends = flows.held_sends(session)
    return intake
