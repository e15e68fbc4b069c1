"""``relais contacts export ID`` and ``relais contacts erase ID``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from contacts import service
from core import db
from core.settings import Settings
from tests.contacts.helpers import create_contact


def test_cli_export_and_erase(runtime: Settings) -> None:
    with db.session_scope() as session:
        cid = create_contact(session, 1, name="Ana").id
    runner = CliRunner()
    exported = runner.invoke(app, ["contacts", "export", str(cid)])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["contact"]["name"] == "Ana"
    assert runner.invoke(app, ["contacts", "erase", str(cid)], input="n\n").exit_code == 1
    erased = runner.invoke(app, ["contacts", "erase", str(cid), "--yes"])
    assert erased.exit_code == 0, erased.output
    with db.session_scope() as session:
        assert service.get(session, cid).erased
    assert runner.invoke(app, ["contacts", "erase", str(cid), "--yes"]).exit_code == 1
    assert runner.invoke(app, ["contacts", "export", "424242"]).exit_code == 1
