"""``relais contacts import FILE`` with a mapping, a dry run and a failing file."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from contacts.models import Contact
from core import db
from core.settings import Settings


def _count() -> int:
    with db.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


def test_cli_import(runtime: Settings, tmp_path: Path) -> None:
    good = tmp_path / "people.csv"
    good.write_text("Tel,Nom\n+33612345678,Ana\n+33612345679,Luc\n")
    mapping = json.dumps({"Tel": "phone", "Nom": "name"})
    runner = CliRunner()
    dry = runner.invoke(app, ["contacts", "import", str(good), "--mapping", mapping, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 created" in dry.output and _count() == 0
    done = runner.invoke(app, ["contacts", "import", str(good), "--mapping", mapping])
    assert done.exit_code == 0 and _count() == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("phone\n+33612345670\n12\n")
    failed = runner.invoke(app, ["contacts", "import", str(bad)])
    assert failed.exit_code == 1
    assert "invalid_phone" in failed.output and "nothing was imported" in failed.output
    assert _count() == 2
