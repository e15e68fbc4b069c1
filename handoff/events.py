"""Live console events: published on Redis after commit, streamed to browsers by the console.

The machinery is :mod:`core.live` (``delivery`` announces message statuses through it too, and may not
import ``handoff``); handoff's flows and the console name it here, as before.
"""

from __future__ import annotations

from core.live import channel, publish_after_commit

__all__ = ["channel", "publish_after_commit"]
