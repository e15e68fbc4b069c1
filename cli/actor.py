"""Who the audit log names for a change made with ``relais``: the command line, and the OS user running it.

Every command that changes state records it through ``core.audit.record`` as the API does, with
:data:`CLI_ACTOR`: type ``cli``, id the operating-system account (``alice``; ``uid 1001`` when the
account has no name), so "Server command line" in the log says which person at the server it was.
``tests/api/test_audit_coverage.py`` fails for a command that changes state and records nothing.
"""

from __future__ import annotations

import os

from core import audit

ACTOR_ID_LENGTH = 64  # core.models.AuditEntry.actor_id


def os_user() -> str:
    """The account this process runs as, from the system's user database (the real uid), not from ``$USER``,
    which anyone can set; under ``sudo`` the invoking account is named too (``root, sudo by alice``)."""
    uid = os.getuid()
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):  # no such module (Windows) or no entry (a bare container's uid)
        name = f"uid {uid}"
    invoker = os.environ.get("SUDO_USER", "")
    if uid == 0 and invoker and invoker != name:
        name = f"{name}, sudo by {invoker}"
    return name[:ACTOR_ID_LENGTH]


def cli_actor() -> audit.Actor:
    """The actor of a ``relais`` command run by this process's OS user."""
    user = os_user()
    return audit.Actor(type="cli", id=user, name=f"relais CLI ({user})")


CLI_ACTOR = cli_actor()
