"""Live console events: published on Redis after commit, streamed to browsers by the console.

Redis pub/sub (not an in-process bus) so every API replica's console stream sees every event,
whichever process or worker produced it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from core.db import after_commit
from core.redis import get_redis
from core.settings import get_settings

CHANNEL = "relais:console:events"


def publish_after_commit(session: Session, kind: str, **data: Any) -> None:
    """Announce ``kind`` (e.g. ``conversation.escalated``) once the change is committed."""
    payload = json.dumps({"kind": kind, **data}, default=str)
    after_commit(session, lambda: get_redis(get_settings()).publish(CHANNEL, payload))
