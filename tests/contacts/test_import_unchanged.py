"""A contact file imported again counts the contacts it left as they were as unchanged, not updated."""

from __future__ import annotations

import io

from contacts import attributes, import_jobs, import_runner, service
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions
from contacts.importer import import_file
from contacts.models import ContactImport
from core import db
from core.audit import Actor
from core.settings import Settings

PERSON = Actor(type="user", id="7", name="marketer@example.com")
PEOPLE = (
    "Téléphone;Prénom;Nom;Langue;Tags;Consentement;Points;Anniversaire\n"
    "06 12 34 56 78;Zoé;Durand;fr;vip;oui;120;1990-04-02\n"
    "06 23 45 67 89;Hugo;Petit;fr;;non;7,5;\n"
    "06 34 56 78 90;Léa;Martin;;;;;\n"
)


def _run(data: str, options: ImportOptions) -> ContactImport:
    with db.session_scope() as session:
        job = import_jobs.start(session, io.BytesIO(data.encode()), filename="clients.csv", options=options,
                                limits=FileLimits(), actor=PERSON, enqueue=False)  # fmt: skip
        import_id = job.id
    assert import_runner.run(import_id) == "succeeded"
    with db.session_scope() as session:
        return import_jobs.get(session, import_id)


def _declare() -> None:
    with db.session_scope() as session:
        attributes.define(session, name="points", type="number")
        attributes.define(session, name="anniversaire", type="date", segmentable=True)


def test_the_same_file_again_updates_nobody(runtime_any_db: Settings) -> None:
    _declare()
    options = ImportOptions(
        region="FR", mapping={"Points": "attribute:points", "Anniversaire": "attribute:anniversaire"}
    )
    first = _run(PEOPLE, options)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    again = _run(PEOPLE, options)
    # it read "3 updated" of contacts it left as they were
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    changed = PEOPLE.replace("Hugo;Petit;fr;;non;7,5", "Hugo;Petit;fr;client;non;7,5").replace(
        "Léa;Martin;;;;", "Léa;Martin;;;oui;"
    )
    third = _run(changed, options)
    assert (third.updated, third.unchanged) == (2, 1)  # a tag added, a consent given; Zoé as she was


def test_joining_a_list_is_an_update_and_the_in_request_import_counts_alike(runtime_any_db: Settings) -> None:
    _declare()
    with db.session_scope() as session:
        list_id = service.create_list(session, name="Salon 2026").id
    plain = ImportOptions(region="FR", mapping={"Points": "ignore", "Anniversaire": "ignore"})
    _run(PEOPLE, plain)
    listed = ImportOptions(region="FR", mapping={"Points": "ignore", "Anniversaire": "ignore"}, list_ids=(list_id,))
    joined = _run(PEOPLE, listed)
    assert (joined.updated, joined.unchanged) == (3, 0)
    with db.session_scope() as session:
        report = import_file(session, io.BytesIO(PEOPLE.encode()), listed, filename="clients.csv")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert report.as_dict()["unchanged"] == 3
