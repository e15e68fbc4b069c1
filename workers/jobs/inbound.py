"""``process_inbound(message_id, conversation_id)``: the job that runs the agent on a received message.

Most texts are answered by the ingest job's batch (``agent.intake``) without a job of their own;
this job (id ``inbound:<id>``, queued by ``conversations.flows.queue_analysis``) takes a text whose
conversation was busy, or one of a batch that failed. The work itself, analysis and acting on the
decision, is ``agent.inbound.handle_inbound``. The job adds:

* **Idempotent**: a message whose ``analysis`` already holds a decision is not processed again
  (a retried or duplicated job does nothing).
* **One at a time per conversation**: the work runs under the conversation's Redis lock, in one
  transaction, so two texts a second apart are handled in turn, each seeing the other in its
  history. The job is given the conversation, so it takes the lock without reading the database
  first.
"""

from __future__ import annotations

from sqlalchemy import select

from agent.inbound import handle_inbound
from conversations.lock import conversation_lock
from conversations.models import Message
from core.db import session_scope


def process_inbound(message_id: int, conversation_id: int | None = None) -> str:
    """Analyse inbound message ``message_id`` of ``conversation_id`` and act on the decision;
    returns what was done. Without ``conversation_id`` (a caller knowing only the message) it is
    looked up first."""
    if conversation_id is None:
        with session_scope() as session:
            conversation_id = session.scalar(select(Message.conversation_id).where(Message.id == message_id))
        if conversation_id is None:
            return "skipped: not an inbound conversation message"
    with conversation_lock(conversation_id), session_scope() as session:
        return handle_inbound(session, message_id)
