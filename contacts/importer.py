"""Contact import: one row parser, shared by every way of importing, and the in-transaction import.

:class:`RowParser` turns a file row into a validated contact (or findings: errors reject the row,
warnings do not); ``contacts.import_writer.write_batch`` then looks a batch up against existing
contacts, the suppression list and the numbers seen earlier in the file, and inserts or merges it.
Two drivers use them: ``contacts.import_runner`` (the background job: each batch its own short
transaction, partial import by default) and :func:`import_file` below (all or nothing inside the
caller's transaction, for the CRM CSV sync).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO, Literal

from sqlalchemy.orm import Session

from channels.countries import region_code
from channels.phone import NO_SMS
from contacts import attributes as attrs
from contacts.file_limits import FileLimits
from contacts.import_mapping import (
    ColumnMapping,
    header_with_phone,
    normalise_header,
    resolve,
    spare_phones,
    targets,
)
from contacts.import_report import ImportFailed, ImportOptions, ImportReport, OnExisting, ParsedRow, RowProblem
from contacts.import_values import (
    TWO_NUMBERS,
    file_date,
    file_number,
    mobile_of_row,
    phone_kinds,
    read_phone,
    totals_word,
)
from contacts.import_writer import MemorySeen, write_batch
from contacts.service import check_language, check_timezone, clean_tags, get_list
from contacts.tabular import DELIMITERS, inspect, read_table
from core.audit import SYSTEM, Actor
from core.crypto import blind_index
from core.errors import ValidationFailed

__all__ = ["ImportFailed", "ImportOptions", "ImportReport", "OnExisting", "RowParser", "import_file"]

BATCH = 1000  # rows per flush of the in-transaction import
#: forms and shops write the answer in their words ("J'accepte", "Einverstanden", "Acepto", "Not subscribed"): those
#: rows were rejected "not yes/no", a whole file of them imported no one
_YES = frozenset({
    "yes", "y", "true", "1", "opted in", "opt in", "oui", "o", "vrai", "si", "sim", "ja", "x", "accepte", "d accord",
    "subscribed", "accepted", "agreed", "granted", "given", "j accepte", "oui j accepte", "acceptee", "inscrit",
    "inscrite", "abonne", "abonnee", "einverstanden", "ja einverstanden", "zugestimmt", "eingewilligt", "angemeldet",
    "abonniert", "acepto", "si acepto", "aceptado", "aceptada", "de acuerdo", "suscrito", "suscrita", "consiento",
    "accetto", "aceito",
})  # fmt: skip
#: a "no" in a marketing-consent column is no marketing consent (consent_status ``opted_out``), not a STOP: service
#: texts and replies still reach the person. It used to record a full opt-out, so every text was blocked.
_NO = frozenset({
    "no", "n", "false", "0", "opted out", "opt out", "non", "faux", "nao", "nein", "nee", "refuse", "declined",
    "refused", "not subscribed", "denied", "refusee", "pas d accord", "non merci", "non inscrit", "non abonne",
    "abgelehnt", "nicht einverstanden", "nein danke", "rechazado", "rechazada", "no acepto", "no gracias",
    "rifiutato", "recusado",
})  # fmt: skip
#: a consent cell that says STOP says more than "no marketing": the person asked for no texts at all
_STOP = frozenset({"stop", "stopped", "unsubscribed", "desinscrit", "desinscrite", "desabonne", "desabonnee",
                   "abgemeldet", "dado de baja", "desuscrito"})  # fmt: skip
#: consent values that answer neither way, as an export writes them (``consent_status`` none / pending): no
#: consent recorded, as an empty cell (a pending double opt-in is not one); they were refused as "not yes/no"
_UNANSWERED = frozenset({"none", "pending", "n a", "na", "unknown", "inconnu", "non renseigne"})
#: what a consent cell says (:func:`consent_answer`): a yes, no marketing consent, a STOP, or no answer
ConsentAnswer = Literal["opted_in", "declined", "opted_out", ""]
#: the language contacts of a country are texted in when the file gives none and the marketer asked for it
#: (``ImportOptions.language_from_country``): only countries where one language is the norm. Multilingual ones
#: (BE, CH, CA, LU, IN, ZA…) get none: a guess would text the Flemish in French or Québécois in English.
MAIN_LANGUAGE = {
    "FR": "fr", "MC": "fr", "ES": "es", "MX": "es", "AR": "es", "CL": "es", "CO": "es", "PE": "es", "DE": "de",
    "AT": "de", "IT": "it", "PT": "pt", "BR": "pt", "NL": "nl", "GB": "en", "IE": "en", "US": "en", "AU": "en",
    "NZ": "en", "PL": "pl", "SE": "sv", "DK": "da", "GR": "el", "CZ": "cs", "HU": "hu", "RO": "ro", "JP": "ja",
}  # fmt: skip
_LANGUAGE_NAMES = {
    "francais": "fr", "french": "fr", "anglais": "en", "english": "en", "espagnol": "es", "spanish": "es",
    "espanol": "es", "allemand": "de", "german": "de", "deutsch": "de", "italien": "it", "italian": "it",
    "portugais": "pt", "portuguese": "pt", "neerlandais": "nl", "dutch": "nl", "arabe": "ar", "arabic": "ar",
}  # fmt: skip


class RowParser:
    """Validates rows of one file against the mapping resolved from its header.

    Raises (constructor):
        ValidationFailed: too many columns, a bad mapping, no phone column.
    """

    def __init__(
        self,
        header: list[str],
        options: ImportOptions,
        known: attrs.Schema,
        limits: FileLimits,
        *,
        hidden: frozenset[int] = frozenset(),
    ) -> None:
        if len(header) > limits.max_columns:
            raise ValidationFailed(
                f"the file has {len(header)} columns; imports take at most {limits.max_columns}",
                errors=[{"field": "file"}],
            )
        self.header = [h.strip() for h in header]
        self.options = options
        self.known = known
        self.limits = limits
        self.columns: list[ColumnMapping] = resolve(self.header, options.mapping, known, hidden=hidden)
        self.targets = targets(self.columns)
        self.column_of = {t: self.header[i] for i, t in self.targets.items()}
        self.common_tags = clean_tags(options.tags)
        self.phone = next(i for i, t in self.targets.items() if t == "phone")
        self.phone_kinds = phone_kinds(self.header, self.phone)
        self.spare_phones = spare_phones(self.header, self.phone, self.targets)

    @property
    def mapping(self) -> dict[str, str]:
        return {self.header[i]: t for i, t in sorted(self.targets.items())}

    def values(self, cells: list[str]) -> dict[str, str]:
        """Target → the row's cell (trimmed); the phone is the row's mobile where the file types its numbers, and
        where the mobile column is empty, the other phone column's number (:meth:`spare_phone`)."""
        values = {t: cells[i].strip() if i < len(cells) else "" for i, t in self.targets.items()}
        values["phone"] = mobile_of_row(cells, self.phone_kinds) or values["phone"]
        spare = self.spare_phone(cells, values["phone"])
        if spare is not None:
            values["phone"] = cells[spare].strip()
        return values

    def spare_phone(self, cells: list[str], read: str) -> int | None:
        """The column a row's number is read from when its mobile cell is empty (``read``, the number read, is ""):
        the plain phone column the mobile one was preferred to (HubSpot's "Phone Number" beside "Mobile Phone
        Number"), when the row fills it; else None. Such a row was rejected "the number is empty" with a number in
        the cell beside."""
        if read:
            return None
        return next((i for i in self.spare_phones if i < len(cells) and cells[i].strip()), None)

    def parse(self, number: int, cells: list[str]) -> tuple[ParsedRow | None, list[RowProblem]]:
        """The row numbered ``number`` (spreadsheet numbering) as a contact, and what is wrong with it."""
        problems: list[RowProblem] = []
        kept = tuple(cells)

        def reject(column: str, code: str, message: str) -> None:
            problems.append(RowProblem(number, column, code, message, cells=kept))

        def warn(column: str, code: str, message: str) -> None:
            problems.append(RowProblem(number, column, code, message, error=False))

        if len(cells) > self.limits.max_columns:
            reject("", "too_many_columns", f"the row has more than {self.limits.max_columns} cells")
            return None, problems
        for i, cell in enumerate(cells):
            if len(cell) > self.limits.max_cell:
                name = self.header[i] if i < len(self.header) else f"column {i + 1}"
                reject(name, "cell_too_long", f"longer than {self.limits.max_cell:,} characters")
        if problems:
            return None, problems
        glued = _glued(cells, len(self.header))
        if glued:
            # "0612345605,Jean,Virgule" in a file separated by semicolons read "the number is not a phone number"
            reject(self.header[0], "wrong_separator",
                   f"the whole row is in one cell, its values separated by “{glued}” unlike the other rows: "
                   "separate them as the other rows are, or import that row from a file of its own")
            return None, problems
        values = self.values(cells)
        column = self.column_of
        region = self.options.region
        country = values.get("country", "")
        if country:
            named = region_code(country)
            if named is not None:
                region = named
            else:
                warn(
                    column["country"],
                    "country_ignored",
                    "not a country code (such as FR) or a country's name; the default region is used",
                )
        own = mobile_of_row(cells, self.phone_kinds) or (cells[self.phone].strip() if self.phone < len(cells) else "")
        spare = self.spare_phone(cells, own)
        if spare is not None:
            warn(column["phone"], "phone_from_other_column",
                 f"empty: the number is read from “{self.header[spare]}”, the row's other phone column")
        info, why = read_phone(values["phone"], region, column["phone"])
        if info is None:
            total = totals_word(cells)
            if total:  # "the number is not a phone number" sent people looking for a contact on the totals row
                reject(column["phone"], "totals_row", f"a totals row (“{total}”), not a contact: nothing to import")
            elif TWO_NUMBERS.search(values["phone"]):  # it read "the number is too long"
                reject(column["phone"], "invalid_phone",
                       "two numbers in one cell: keep one per row (the mobile), or put the other in a row of its own")
            else:
                reject(column["phone"], "invalid_phone", f"the number {why}")
            return None, problems
        if why:
            warn(column["phone"], "plus_added", why)
        if info.line_type in NO_SMS:
            warn(column["phone"], "landline" if info.line_type == "fixed_line" else "not_mobile",
                 f"{NO_SMS[info.line_type]}: it cannot receive SMS. The contact is imported but will not be texted")
        elif info.line_type == "voip":
            warn(column["phone"], "voip", "a VoIP number: many cannot receive SMS")
        row = ParsedRow(
            number=number,
            cells=cells,
            e164=info.e164,
            index=blind_index(info.e164),
            country=info.region or "",
            timezone=info.timezone,
            line_type=info.line_type,
            tags=list(self.common_tags),
            name=values.get("name") or None,
            first_name=values.get("first_name") or None,
            columns=self.column_of,
        )
        if values.get("language"):
            raw = values["language"]
            try:
                row.language = check_language(_language_code(raw), column["language"])
            except ValidationFailed:
                reject(column["language"], "bad_language", "not a language code such as 'fr' or 'pt-BR'")
        if not values.get("language") and self.options.language_from_country and row.country in MAIN_LANGUAGE:
            row.language, row.language_from_country = MAIN_LANGUAGE[row.country], True
        if values.get("timezone"):
            try:
                row.timezone = check_timezone(values["timezone"], column["timezone"])
            except ValidationFailed:
                reject(column["timezone"], "bad_timezone", "not an IANA time zone such as 'Europe/Paris'")
        if values.get("tags"):
            try:
                row.tags = clean_tags([*row.tags, *tag_cells(values["tags"])])
            except ValidationFailed:
                reject(column["tags"], "bad_tag", "tags are 1-64 letters, digits, spaces or . : / - _")
        for target, raw in values.items():
            if target.startswith("attribute:"):
                definition = self.known[target[10:]]
                try:
                    value = attrs.coerce(definition.type, _as_typed(definition.type, raw, self.options.region))
                except attrs.BadAttributeValue as exc:
                    why = _why(definition.type, exc, raw)
                    reject(column[target], "bad_attribute",
                           f"not a valid {definition.type} for attribute {definition.name}: {why}")
                    continue
                if value is not None:
                    row.attributes[definition.name] = value
        answer = consent_answer(values.get("consent", ""))
        if answer is None:
            reject(column["consent"], "bad_consent", "not yes/no (oui/non, sí/no, ja/nein, sim/não)")
        elif answer:
            row.consent, row.stop = answer == "opted_in", answer == "opted_out"
        raw_stop = normalise_header(values.get("opted_out", ""))
        if raw_stop in _YES or raw_stop in _STOP:
            row.consent, row.stop = False, True
        elif raw_stop and raw_stop not in _NO:
            reject(column["opted_out"], "bad_consent", "not yes/no (true/false, oui/non): did they opt out (STOP)?")
        if self.options.require_consent and row.consent is not True and not (answer is None and row.consent is None):
            reject(
                column.get("consent", "consent"),
                "missing_consent",
                "consent is required for every row (a yes in the consent column)",
            )
        row.proof = values.get("consent_proof") or f"import {self.options.source_name} row {number}"
        return (None if any(p.error for p in problems) else row), problems


#: what a file's cell must look like for each attribute type, said when one does not
_EXPECTED = {
    "number": "a number such as 2.5 or 2,5",
    "date": "a date such as 2024-05-31 or 31/05/2024",
    "boolean": "yes/no, true/false or 1/0",
    "string": "text",
}


def _as_typed(type_: str, raw: str, region: str | None) -> str:
    """A file's cell in the form ``attributes.coerce`` reads: decimal commas and spreadsheet dates
    (``contacts.import_values``); a row with ``12,50`` or ``31/12/1980`` was rejected."""
    if type_ == "number":
        return file_number(raw)
    if type_ == "date":
        return file_date(raw, region)
    return raw


def _why(type_: str, exc: attrs.BadAttributeValue, raw: str) -> str:
    """The reason in words without the cell's value (rejected reasons never repeat a cell)."""
    message = str(exc)
    return f"expected {_EXPECTED.get(type_, type_)}" if raw.strip() in message else message


def consent_answer(value: str | None) -> ConsentAnswer | None:
    """What a marketing-consent value says, as the import reads its consent column and the CRM sync its consent
    property (so a file and a CRM giving the same word record the same consent): ``opted_in`` for a yes (oui,
    true, 1, subscribed…), ``declined`` for a no (non, false, 0, opted out: no marketing consent, not a STOP),
    ``opted_out`` for a STOP written in it (stop, unsubscribed, désinscrit), ``""`` for no answer (empty,
    none, pending); ``None`` when it says none of these."""
    text = normalise_header(value or "")
    if not text or text in _UNANSWERED:
        return ""
    if text in _YES:
        return "opted_in"
    if text in _NO:
        return "declined"
    return "opted_out" if text in _STOP else None


def tag_cells(text: str) -> list[str]:
    """The tags of one cell, ``;`` or ``,`` separated, each without the quotes Mailchimp's export puts around it
    (``"VIP","Black Friday"``: the quotes made every tagged member's row rejected as a bad tag)."""
    return [part.strip().strip('"').strip() for part in re.split(r"[;,]", text)]


def _glued(cells: list[str], columns: int) -> str:
    """The separator that a row of one cell uses where the file has several columns (a line written with
    commas in a file with semicolons): it splits that cell into two or more values; "" for any other row."""
    # one cell where the file has several: a row with the file's separators in it is not glued ("6,12E+08;")
    if columns < 2 or len(cells) != 1 or not cells[0].strip():
        return ""
    for candidate in DELIMITERS:
        if len(cells[0].split(candidate)) >= min(columns, 3):
            return "tab" if candidate == "\t" else candidate
    return ""


def _language_code(raw: str) -> str:
    """``Français`` → ``fr``, ``EN`` → ``en``, ``pt_br`` → ``pt-BR``: how spreadsheets spell languages."""
    named = _LANGUAGE_NAMES.get(normalise_header(raw))
    if named:
        return named
    language, _, region = raw.strip().replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def numbered_rows(
    rows: Iterator[list[str]], limits: FileLimits, *, start: int = 2
) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their spreadsheet row number (the first is ``start``: the header's row + 1), blank rows
    left out.

    Raises:
        ValidationFailed: more data rows than ``limits.max_rows``.
    """
    for number, cells in enumerate(rows, start=start):
        if number - start + 1 > limits.max_rows:
            raise ValidationFailed(f"the file has more than {limits.max_rows:,} rows", errors=[{"field": "file"}])
        if any(c.strip() for c in cells):
            yield number, cells


def first_row(rows: Iterator[list[str]]) -> list[str]:
    """The header row; ``ValidationFailed`` for a file without one."""
    try:
        header = next(rows)
    except StopIteration:
        header = []
    if not any(h.strip() for h in header):
        raise ValidationFailed(
            "the file is empty: expected a header row naming the columns", errors=[{"field": "file"}]
        )
    return header


def import_file(
    session: Session,
    binary: IO[bytes],
    options: ImportOptions,
    *,
    filename: str = "",
    actor: Actor = SYSTEM,
    limits: FileLimits | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV or XLSX file all or nothing inside ``session`` (the caller commits).

    For automated feeds (the CRM CSV sync); people's uploads go through ``contacts.import_jobs``.
    Once a row is rejected writing stops, validation goes on so the report is complete, and
    :class:`ImportFailed` is raised at the end for the caller to roll back.

    Raises:
        ImportFailed: some rows are invalid (the report is attached).
        ValidationFailed / PayloadTooLarge: a bad mapping, no phone column, an empty, malformed or
            oversized file.
    """
    limits = limits or FileLimits()
    for list_id in options.list_ids:
        get_list(session, list_id)  # NotFound before reading the file
    shape = inspect(binary, filename, limits)
    table = read_table(binary, shape, limits, header_with_phone(options.mapping))
    known = attrs.schema(session)
    parser = RowParser(table.header, options, known, limits, hidden=table.hidden)
    report = ImportReport(dry_run=options.dry_run, mapping=parser.mapping)
    seen = MemorySeen()
    batch: list[ParsedRow] = []

    def flush() -> None:
        outcome = write_batch(
            session, batch, options=options, known=known, seen=seen, actor=actor,
            write=not options.dry_run and report.error_count == 0,
        )  # fmt: skip
        for problem in outcome.problems:
            report.add(problem)
        report.created += outcome.created
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged
        report.skipped += outcome.skipped
        report.without_consent += outcome.without_consent
        batch.clear()
        if progress:
            progress(report.rows)

    for number, cells in numbered_rows(table.rows, limits, start=table.header_row + 1):
        report.rows += 1
        row, problems = parser.parse(number, cells)
        for problem in problems:
            report.add(problem)
        if row is not None:
            batch.append(row)
        if len(batch) >= BATCH:
            flush()
    flush()
    if report.rows == 0:
        raise ValidationFailed("the file has a header but no data rows", errors=[{"field": "file"}])
    if report.error_count:
        raise ImportFailed(report)
    session.flush()
    report.committed = not options.dry_run
    return report
