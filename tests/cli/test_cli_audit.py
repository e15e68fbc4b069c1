"""``relais`` commands that change state are in the audit log, naming the command line and the OS user who ran it.

Which commands must audit is checked over the whole command table by ``tests/api/test_audit_coverage.py``;
these run a few for real and read their rows.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.console.audit_words import actor_text
from cli import actor
from cli.main import app
from core import db
from core.models import AuditEntry
from core.settings import Settings

PROFILE = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere" / "profile.yaml"


def _rows() -> list[AuditEntry]:
    with db.session_scope() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def test_a_profile_load_and_a_key_rotation_name_the_os_user(runtime: Settings) -> None:
    """``relais profile load`` replaced the agent's business profile with no entry (the API's PUT records
    ``agent.profile.update``), and every CLI entry said only "relais-cli": not which account at the server."""
    runner = CliRunner()
    loaded = runner.invoke(app, ["profile", "load", str(PROFILE)])
    assert loaded.exit_code == 0, loaded.output
    assert runner.invoke(app, ["profile", "load", str(PROFILE)]).exit_code == 0  # the same text: no second entry
    rotated = runner.invoke(app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    me = pwd.getpwuid(os.getuid()).pw_name
    rows = _rows()
    assert [(r.actor_type, r.actor_id, r.actor_name, r.action, r.target_type) for r in rows] == [
        ("cli", me, f"relais CLI ({me})", "agent.profile.update", "profile"),
        ("cli", me, f"relais CLI ({me})", "keys.rotate", "encryption_key"),
    ]
    assert rows[0].diff["document"][0] == "" and "Maison" in rows[0].diff["document"][1]
    assert rows[1].target_id  # the key now in use
    assert actor_text("cli", rows[0].actor_name, rows[0].actor_id) == f"Server command line ({me})"  # the log page
    assert actor_text("cli", "relais CLI", "relais-cli") == "Server command line"  # a row written before


def test_the_os_user_comes_from_the_uid_not_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$USER`` is whatever the caller set; the account of the process's uid is not. Under sudo the
    invoking account is named beside root."""
    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert actor.os_user() == pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setattr(actor.os, "getuid", lambda: 0)
    monkeypatch.setenv("SUDO_USER", "alice")
    assert actor.os_user() == "root, sudo by alice"
    monkeypatch.setattr(actor.os, "getuid", lambda: 987_654)  # no entry in the user database
    assert actor.os_user() == "uid 987654"


def test_intents_activate_is_audited_refuses_in_words_and_the_list_shows_whole_versions(runtime: Settings) -> None:
    """``relais intents activate`` switched the deployment's model with no entry (the API's records
    ``intents.activate``); a mistyped version printed a traceback; and ``intents list`` cut the version it takes
    to "20261201T052949Z-db…" in an 80-column terminal."""
    from agent.intent.builtin import ensure_builtin_model
    from agent.runtime import intent_store

    version = ensure_builtin_model(intent_store(runtime), backend=runtime.intent_backend)
    assert version is not None
    runner = CliRunner()
    listed = runner.invoke(app, ["intents", "list"], env={"COLUMNS": "80"})
    assert listed.exit_code == 0 and version in listed.output, listed.output
    wrong = runner.invoke(app, ["intents", "activate", "20991231T000000Z-nope"])
    assert wrong.exit_code == 1 and "no intent model version '20991231T000000Z-nope'" in wrong.output
    assert "Traceback" not in wrong.output and isinstance(wrong.exception, SystemExit)  # typer.Exit(1), no error
    activated = runner.invoke(app, ["intents", "activate", version])
    assert activated.exit_code == 0, activated.output
    [row] = [r for r in _rows() if r.action == "intents.activate"]
    assert (row.actor_type, row.target_type, row.target_id) == ("cli", "intent_model", version)
