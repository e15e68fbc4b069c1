"""What an import records of consent, and what its preview says it will record.

A "no" in a marketing-consent column used to record a STOP (``opted_out``): the contact card then said no text
would reach them, replies included. It means no marketing consent: marketing stops, service texts and replies do
not. A STOP is recorded only where the file says it. Re-importing existing contacts from a file without consent
previewed "none: no marketing texts" for people whose opt-in the import keeps.
"""

from __future__ import annotations

import io

from contacts import consent, service
from contacts.file_limits import FileLimits
from contacts.import_preview import preview
from contacts.importer import ImportOptions, consent_answer, import_file
from core import db
from tests.contacts.helpers import create_contact, phone


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("cp1252"))


def test_a_no_to_marketing_is_not_a_stop_and_a_stop_column_is(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        kept = create_contact(session, 3)
        consent.record_opt_in(session, contact=kept, source="form", proof="shop form")
    data = _csv(
        "Téléphone;Prénom;Consentement SMS;STOP SMS\n"
        "06 00 00 00 01;Luc;non;\n"
        "06 00 00 00 02;Max;;oui\n"
        f"{phone(3)};Ana;non;non\n"  # an existing opt-in withdrawn for marketing, no STOP
        "06 00 00 00 04;Léa;stop;\n"  # STOP written in the consent column says it too
    )
    with db.session_scope() as session:
        report = import_file(session, data, ImportOptions(region="FR"))
    assert (report.created, report.updated, report.error_count) == (3, 1, 0)
    with db.session_scope() as session:
        people = {n: service.find_by_phone(session, phone(n)) for n in (1, 2, 3, 4)}
        state = {n: (c.consent_status, c.opted_out) for n, c in people.items() if c is not None}
        assert state == {1: ("opted_out", False), 2: ("opted_out", True), 3: ("opted_out", False),
                         4: ("opted_out", True)}  # fmt: skip
        ids = {n: c.id for n, c in people.items() if c is not None}
        assert consent.consent_verdicts(session, ids.values(), "marketing") == {
            ids[1]: "no_consent", ids[2]: "opted_out", ids[3]: "no_consent", ids[4]: "opted_out"}  # fmt: skip
        # a reply or an order update still reaches those who only declined marketing
        assert consent.consent_verdicts(session, ids.values(), "conversational") == {
            ids[2]: "opted_out", ids[4]: "opted_out"}  # fmt: skip
        ledger = {n: [e.action for e in consent.history(session, c)] for n, c in people.items() if c is not None}
        assert ledger == {1: ["declined"], 2: ["opt_out"], 3: ["opt_in", "declined"], 4: ["opt_out"]}
        # a later opt-in needs no proof of a START: it was no STOP
        consent.record_opt_in(session, contact=people[1], source="form")  # type: ignore[arg-type]
        assert consent.consent_verdicts(session, [ids[1]], "marketing") == {}


def test_the_preview_says_existing_contacts_keep_their_consent(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        consent.record_opt_in(session, contact=create_contact(session, 5), source="form", proof="shop form")
        consent.record_opt_out(session, contact=create_contact(session, 6), source="keyword", proof="STOP")
    data = _csv(f"Téléphone;Prénom\n{phone(5)};Zoé\n{phone(6)};Paul\n06 00 00 00 07;Nina\n")
    with db.session_scope() as session:
        found = preview(session, data, filename="f.csv", options=ImportOptions(region="FR"), limits=FileLimits())
    words = {r["row"]: r["consent_text"] for r in found["rows"]}
    assert words == {
        2: "kept: opt-in (existing contact)",
        3: "kept: opted out (STOP) (existing contact)",
        4: "none: no marketing texts",
    }
    # the notice counts only the new contact, who gets no marketing texts; it said "2 rows have no consent" and
    # more before, of people whose consent the import keeps
    assert found["consent_notice"].startswith("1 row has no consent")


def test_the_word_a_crm_writes_for_a_no_reads_as_one_in_a_file() -> None:
    # Relais writes "declined" to HubSpot for a "no"; a file exported from the CRM carries the same word
    assert [consent_answer(v) for v in ("declined", "Declined", "refused", "refusé", "opted_out")] == ["declined"] * 5
    assert consent_answer("unsubscribed") == "opted_out"


def test_consent_answers_in_the_words_forms_write_them() -> None:
    """French, German and Spanish forms and shops write "J'accepte", "Einverstanden", "Acepto": those rows were
    rejected "not yes/no", so a file of them imported no one."""
    yes = ("J'accepte", "Oui, j'accepte", "Accepté", "Inscrit", "Abonnée", "Einverstanden", "Ja, einverstanden",
           "Zugestimmt", "Acepto", "Sí, acepto", "De acuerdo", "Suscrito", "Accepted", "Agreed")
    no = ("Refusée", "Pas d'accord", "Non merci", "Abgelehnt", "Nicht einverstanden", "Rechazado", "No acepto",
          "Not subscribed")
    assert [consent_answer(v) for v in yes] == ["opted_in"] * len(yes)
    assert [consent_answer(v) for v in no] == ["declined"] * len(no)
    assert [consent_answer(v) for v in ("Abgemeldet", "Dado de baja", "Désabonnée")] == ["opted_out"] * 3
    assert consent_answer("peut-être") is None  # still refused, saying why, never guessed
