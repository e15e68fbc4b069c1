"""Contacts imported from a file without a language column got no language, silently: a "language = fr" segment
then left out every French number. The preview now says how many rows give none and offers the country's main
language; the import uses it only when the marketer asks, only where one language is the norm (not Belgium,
Switzerland, Canada), and never over a language the contact already has.
"""

from __future__ import annotations

import io

from contacts import service
from contacts.file_limits import FileLimits
from contacts.import_preview import preview
from contacts.importer import ImportOptions, import_file
from core import db
from tests.contacts.helpers import create_contact, phone

FILE = "Téléphone;Prénom;Langue\n06 00 00 00 01;Zoé;\n+32 470 12 34 56;Lotte;\n+34 612 345 678;Ana;\n" \
       "06 00 00 00 04;Tom;en\n06 00 00 00 05;Luc;\n"


def _csv() -> io.BytesIO:
    return io.BytesIO(FILE.encode("cp1252"))


def test_the_preview_counts_rows_without_language_and_offers_the_countrys(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        create_contact(session, 5, language="de")  # Luc exists with a language: kept, so not counted
        found = preview(session, _csv(), filename="f.csv", options=ImportOptions(region="FR"), limits=FileLimits())
        assert found["language_notice"] == (
            "3 of the first 5 rows leave their contacts without a language (France 1, Belgium 1, Spain 1): a segment "
            "on language (such as “language = fr”) leaves them out. Tick “Use the country's main language” to give "
            "French for France (1), Spanish for Spain (1). Belgium: several languages or none known, so no language "
            "is guessed."
        )
        ticked = preview(session, _csv(), filename="f.csv", limits=FileLimits(),
                         options=ImportOptions(region="FR", language_from_country=True))
        assert ticked["language_from_country"] is True
        assert ticked["language_notice"].startswith("3 of the first 5 rows leave their contacts without a language "
                                                    "(France 1, Belgium 1, Spain 1): each gets its country's main "
                                                    "language: French for")


def test_the_countrys_language_only_when_asked_and_never_over_one_on_record(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        create_contact(session, 5, language="de")
    with db.session_scope() as session:
        import_file(session, _csv(), ImportOptions(region="FR"))
    with db.session_scope() as session:
        assert service.find_by_phone(session, phone(1)).language is None  # type: ignore[union-attr]
    with db.session_scope() as session:
        import_file(session, _csv(), ImportOptions(region="FR", language_from_country=True))
    with db.session_scope() as session:
        found = {n: service.find_by_phone(session, p) for n, p in
                 (("Zoé", phone(1)), ("Lotte", "+32470123456"), ("Ana", "+34612345678"), ("Tom", phone(4)),
                  ("Luc", phone(5)))}  # fmt: skip
        assert {n: c.language for n, c in found.items() if c is not None} == {
            "Zoé": "fr", "Lotte": None, "Ana": "es", "Tom": "en", "Luc": "de"}  # fmt: skip
