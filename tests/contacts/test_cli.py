"""``relais contacts import FILE`` with a mapping, a dry run, rejected rows and ``--strict``."""

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
    bad.write_text("Téléphone;Nom\n+33612345670;Ana\n12;Luc\n", encoding="cp1252")
    strict = runner.invoke(app, ["contacts", "import", str(bad), "--strict"])
    assert strict.exit_code == 1
    assert "invalid_phone" in strict.output and "nothing was imported" in strict.output
    assert _count() == 2
    partial = runner.invoke(app, ["contacts", "import", str(bad), "--rejected", str(tmp_path / "out.csv")])
    assert partial.exit_code == 0, partial.output
    assert "1 created" in partial.output and "1 rejected" in partial.output
    assert _count() == 3
    rejected = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejected == ["row,reason,Téléphone,Nom", "3,Téléphone: the number is too short for a number of France "
                        "(numbers without +country code are read as the default region's),12,Luc"]


def test_cli_import_gives_the_country_s_main_language_when_asked(runtime: Settings, tmp_path: Path) -> None:
    """The API and the console wizard had ``language_from_country``, the CLI not: its contacts came with no
    language, and a "language = fr" segment left them out."""
    people = tmp_path / "people.csv"
    people.write_text("phone,name\n+33612345678,Ana\n+32470123456,Luc\n+33612345679,Léa\n")
    runner = CliRunner()
    done = runner.invoke(app, ["contacts", "import", str(people), "--language-from-country"])
    assert done.exit_code == 0, done.output
    with db.session_scope() as session:
        languages = sorted((tuple(r) for r in session.execute(select(Contact.country, Contact.language))), key=str)
    assert languages == [("BE", None), ("FR", "fr"), ("FR", "fr")]  # Belgium speaks several: no guess
    again = tmp_path / "again.csv"
    again.write_text("phone,name\n+33612345680,Zoé\n")
    plain = runner.invoke(app, ["contacts", "import", str(again)])
    assert plain.exit_code == 0, plain.output
    with db.session_scope() as session:  # without the option, a French contact has no language, as before
        unknown = select(func.count()).where(Contact.country == "FR", Contact.language.is_(None))
        assert session.scalar(unknown) == 1
