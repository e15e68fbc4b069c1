"""Which file column feeds which contact field: French and English header synonyms, and overrides.

Headers are compared case-, accent- and punctuation-insensitively (``Téléphone``, ``TELEPHONE``
and ``téléphone`` are one header). Without a mapping every column is matched against the synonyms
below and the declared attributes; a mapping ``{"file column": target}`` overrides single columns
(``"ignore"`` drops one) and keeps the rest automatic, so the console wizard can fix one guess.

Targets: ``phone``, ``name``, ``first_name``, ``language``, ``timezone``, ``country`` (an ISO code
used for national-format numbers of that row), ``tags``, ``consent``, ``consent_proof``,
``opted_out`` (a STOP: yes means the person asked for no texts at all, as the export's ``opted_out`` column says;
a "no" in ``consent`` only withholds marketing), ``attribute:<name>`` (a declared attribute), ``ignore``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from contacts import attributes as attrs
from core import json_input
from core.errors import ValidationFailed
from core.text import fold_words

FIELDS = ("phone", "name", "first_name", "language", "timezone", "country", "tags", "consent", "consent_proof",
          "opted_out")
Source = Literal["mapping", "synonym", "attribute", "none"]

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "telephone number",
        "tel",
        "tel portable",
        "telephone portable",
        "portable",
        "mobile",
        "mobile phone",
        "mobile number",
        "mobile phone number",  # HubSpot's export beside its "Phone Number" (often the office line)
        "mobilephone",
        "cell",
        "cell phone",
        "cellphone",
        "gsm",
        "numero",
        "numero de telephone",
        "numero de portable",
        "numero mobile",
        "numero portable",
        "n telephone",
        "no telephone",
        "n tel",  # "N° Tél.", "Nº Tel": a spreadsheet's usual heading was not taken for the number
        "no tel",
        "n de telephone",
        "no de telephone",
        "n portable",
        "n mobile",
        "num tel",
        "num telephone",
        "msisdn",
        "number",
        "telefono",
        "movil",
        "telefon",
        "handy",
        "handynummer",
        "mobilnummer",
        "cellulare",
        "numero di telefono",
        "celular",
        "telemovel",
        "numero de telefono",
        "telefoonnummer",
        "phone 1 value",  # Google Contacts' export ("Phone 1 - Value"; "Phone 1 - Type" says mobile or not)
    ),
    "first_name": ("first name", "firstname", "first", "given name", "forename", "prenom", "nombre", "vorname", "nome"),
    "name": (
        "name",
        "full name",
        "nom",
        "nom complet",
        "last name",
        "lastname",
        "surname",
        "family name",
        "nom de famille",
        "apellido",
        "apellidos",
        "nachname",
        "cognome",
        "sobrenome",
        "client",
        "nom du client",
        "nom client",
        "customer",
        "customer name",
        "contact name",
        "cliente",
        "kunde",
        "nombre completo",
        "nome completo",
    ),
    "language": ("language", "lang", "langue", "langage", "idioma", "sprache", "locale", "preferred language"),
    "timezone": ("timezone", "time zone", "tz", "fuseau", "fuseau horaire"),
    "country": ("country", "country code", "pays", "code pays", "pais", "land",
                "default address country code",  # Shopify's customers export: its phones are often national
                "cc"),  # Mailchimp's export: the member's country as an ISO code
    "tags": ("tags", "tag", "etiquettes", "etiquette", "labels", "label", "mots cles"),
    "consent": (
        "consent",
        "sms consent",
        "marketing consent",
        "consentement",
        "consentement sms",
        "opt in",
        "optin",
        "opt in sms",
        "accepte sms",
        "accord sms",
        "accepte les sms",
        "abonne",
        "subscribed",
        "consent status",  # the export's own column (``contacts.export``): opted_in, opted_out, pending, none
        "accepts sms marketing",  # Shopify's customers export (its "Accepts Email Marketing" is not about SMS)
        "accepts sms",
        "sms marketing",
        "sms opt in",
        "sms optin",
        "newsletter sms",
        "sms newsletter",
        "sms einwilligung",
        "einwilligung sms",
    ),
    "consent_proof": ("consent proof", "proof", "preuve", "preuve consentement", "preuve de consentement"),
    # a STOP, every text blocked (the export's ``opted_out``): not the marketing consent above
    "opted_out": ("opted out", "optout", "opt out", "stop", "stop sms", "desinscrit", "desabonne", "blacklist",
                  # a yes in these was ignored: the person imported as if they had never said no
                  "unsubscribed", "unsubscribe", "sms unsubscribed", "sms opt out", "opt out sms", "do not text",
                  "do not sms", "do not contact", "ne pas contacter", "abgemeldet"),
}
#: headers that name an email address: Relais keeps one only in an attribute named ``email``
EMAIL_HEADERS = frozenset({"email", "e mail", "courriel", "mail", "adresse email", "adresse e mail", "email address",
                           "e mail 1 value"})
SYNONYMS: dict[str, str] = {header: target for target, names in _SYNONYMS.items() for header in names}
#: phone headers that name a mobile: when a file has one beside a plain "Phone" (HubSpot's "Phone Number" and
#: "Mobile Phone Number", a CRM's "Téléphone" and "Portable"), the mobile one is read, wherever it stands. The
#: first phone column was read, often an office line, and the contact imported as a landline nobody can text.
MOBILE_HEADERS = frozenset({
    "mobile", "mobile phone", "mobile number", "mobile phone number", "mobilephone", "cell", "cell phone",
    "cellphone", "gsm", "portable", "tel portable", "telephone portable", "numero de portable", "numero mobile",
    "numero portable", "n portable", "n mobile", "movil", "handy", "handynummer", "mobilnummer", "cellulare",
    "celular", "telemovel",
})  # fmt: skip
#: family-name headers: beside a "Name" holding the whole name (Google Contacts' "Name" and "Family Name"), the
#: family name is the contact's name field; "Jean Dupont" was stored as the family name beside first name "Jean"
FAMILY_NAME_HEADERS = frozenset({
    "last name", "lastname", "surname", "family name", "nom de famille", "apellido", "apellidos", "nachname",
    "cognome", "sobrenome",
})  # fmt: skip
#: targets for which a precise header wins over a loose one standing before it, and why in words
_PREFERRED: dict[str, tuple[frozenset[str], str]] = {
    "phone": (MOBILE_HEADERS, "the mobile number: texts go to mobiles; this column is read where it is empty"),
    "name": (FAMILY_NAME_HEADERS, "the family name"),
}
#: the export's columns that Relais works out itself (``contacts.export``): an exported file imports back
#: with these left out, each saying why
WORKED_OUT = {
    "id": "not imported: Relais numbers its contacts itself and finds an existing one by its phone number",
    "created at": "not imported: Relais dates a new contact itself",
    "line type": "not imported: Relais works out the line type (mobile, landline…) from the number",
}


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """A mapping sent as JSON text (``{"file column": target}``) as a dict; None when nothing was sent.

    The order import takes the same shape (its targets are ``contacts.order_columns``'), so the API
    and the CLI parse both with this.

    Raises:
        ValidationFailed: the text is not JSON, or not an object of strings.
    """
    if not text:
        return None
    try:
        value = json_input.loads(text)
    except ValueError:
        raise ValidationFailed("mapping is not JSON", errors=[{"field": "mapping"}]) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed('mapping must be a JSON object {"file column": "field"}', errors=[{"field": "mapping"}])
    return value


def header_with_phone(mapping: Mapping[str, str] | None) -> Callable[[list[str]], bool]:
    """Whether a row is a contact file's header: it names a phone column (by a synonym, or as ``mapping`` maps
    one to ``phone``). ``contacts.tabular.read_table`` passes over the title rows above it with this."""
    named = {normalise_header(column) for column, target in (mapping or {}).items() if target == "phone"}

    def accepts(cells: list[str]) -> bool:
        keys = {normalise_header(cell) for cell in cells if cell.strip()}
        return bool(keys & named) or any(SYNONYMS.get(key) == "phone" for key in keys)

    return accepts


def normalise_header(value: str) -> str:
    """``" Numéro de Téléphone "`` → ``"numero de telephone"``: no accents, case or punctuation."""
    return fold_words(value)


@dataclass(frozen=True)
class ColumnMapping:
    """One file column: its position, header, target (``ignore`` when unused) and why."""

    position: int
    column: str
    target: str
    source: Source
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"column": self.column, "target": self.target, "source": self.source, "note": self.note}


def _automatic(header: str, known: attrs.Schema, attribute_keys: dict[str, str]) -> tuple[str, Source, str]:
    key = normalise_header(header)
    if key in attribute_keys:
        return f"attribute:{attribute_keys[key]}", "attribute", ""
    if key in SYNONYMS:
        return SYNONYMS[key], "synonym", ""
    if key in EMAIL_HEADERS:
        if "email" in known:
            return "attribute:email", "attribute", ""
        # "no email field: declare an attribute named 'email' to keep it" read as developer's shorthand
        return "ignore", "none", ("not imported: contacts have no e-mail field. To keep these addresses, declare a "
                                  "contact attribute named “email” (Contacts › Contact attributes), then import again")
    return "ignore", "none", WORKED_OUT.get(key, "")


def _check_target(column: str, target: str, known: attrs.Schema) -> dict[str, str] | None:
    if target.startswith("attribute:"):
        if target[10:] not in known:
            return {"field": f"mapping.{column}", "message": f"attribute {target[10:]!r} is not defined"}
        return None
    if target not in (*FIELDS, "ignore"):
        return {
            "field": f"mapping.{column}",
            "message": f"target must be one of {', '.join(FIELDS)}, attribute:<name>, ignore",
        }
    return None


def resolve(
    header: list[str],
    mapping: Mapping[str, str] | None,
    known: attrs.Schema,
    *,
    require_phone: bool = True,
    hidden: frozenset[int] = frozenset(),
) -> list[ColumnMapping]:
    """Every column of ``header`` with its target: synonyms and attributes, then ``mapping``'s overrides.

    When two columns resolve to one target automatically, the first keeps it and the other is
    ignored (with a note); an explicit mapping that sends two columns to one target is an error.

    Raises:
        ValidationFailed: an override names no column or an unknown target, two overrides share a
            target, or no column maps to ``phone`` (``errors`` name ``mapping`` or ``mapping.<column>``).
    """
    attribute_keys = {normalise_header(name): name for name in known}
    columns = _shown_first([ColumnMapping(i, name, *_automatic(name, known, attribute_keys))
                            for i, name in enumerate(header)], hidden)
    overrides: dict[int, str] = {}
    errors = []
    by_name = {name.strip(): i for i, name in reversed(list(enumerate(header)))}
    by_key = {normalise_header(name): i for i, name in reversed(list(enumerate(header)))}
    for column, target in (mapping or {}).items():
        position = by_name.get(column.strip(), by_key.get(normalise_header(column)))
        problem = (
            {"field": f"mapping.{column}", "message": "no such column in the file"}
            if position is None
            else _check_target(column, target, known)
        )
        if problem:
            errors.append(problem)
        elif position is not None:
            overrides[position] = target
    explicit = [t for t in overrides.values() if t != "ignore"]
    errors.extend(
        {"field": "mapping", "message": f"several columns map to {target}"}
        for target in sorted({t for t in explicit if explicit.count(t) > 1})
    )
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    taken = set(explicit)
    preferred = {t: c for t in _PREFERRED if t not in taken and (c := _preferred_column(t, columns, overrides))}
    taken.update(preferred)
    resolved = []
    for col in columns:
        if col.position in overrides:
            resolved.append(ColumnMapping(col.position, col.column, overrides[col.position], "mapping"))
        elif col.target in preferred and col.position == preferred[col.target].position:
            resolved.append(col)
        elif col.target in preferred:
            note = f"{col.target} comes from “{preferred[col.target].column}”, {_PREFERRED[col.target][1]}"
            resolved.append(ColumnMapping(col.position, col.column, "ignore", "none", note))
        elif col.target != "ignore" and col.target in taken:
            resolved.append(
                ColumnMapping(col.position, col.column, "ignore", "none", f"{col.target} comes from another column")
            )
        else:
            resolved.append(col)
            taken.add(col.target)
    if require_phone and not any(c.target == "phone" for c in resolved):
        raise ValidationFailed(
            "no column maps to phone: name one like 'phone', 'téléphone', 'mobile' or 'portable', or pass a mapping",
            errors=[{"field": "mapping", "message": "no phone column"}],
        )
    return resolved


def _shown_first(columns: list[ColumnMapping], hidden: frozenset[int]) -> list[ColumnMapping]:
    """Columns hidden in the workbook (``hidden`` positions) said so; one that would feed a field a shown column
    feeds too is left out: a hidden "Consentement 2019" before the shown "Consentement" was read instead of it."""
    shown = {c.target for c in columns if c.position not in hidden and c.target != "ignore"}
    out = []
    for col in columns:
        if col.position not in hidden or col.target == "ignore":
            out.append(col)
        elif col.target in shown:
            out.append(ColumnMapping(col.position, col.column, "ignore", "none",
                                     f"hidden in the workbook; {col.target} comes from a column shown"))
        else:
            out.append(ColumnMapping(col.position, col.column, col.target, col.source,
                                     "hidden in the workbook: imported all the same (choose “Do not import” to "
                                     "leave it out)"))
    return out


def _preferred_column(
    target: str, columns: list[ColumnMapping], overrides: Mapping[int, str]
) -> ColumnMapping | None:
    """The automatic column of ``target`` whose header names it precisely (:data:`_PREFERRED`), when another
    automatic column names it loosely first; None otherwise (the first column keeps it)."""
    found = [c for c in columns if c.target == target and c.source == "synonym" and c.position not in overrides]
    precise = [c for c in found if normalise_header(c.column) in _PREFERRED[target][0]]
    if not precise or found[0] in precise:
        return None
    return precise[0]


def spare_phones(header: list[str], phone: int, used: Mapping[int, str]) -> list[int]:
    """The plain phone columns a row is read from when its mobile column (``phone``, a :data:`MOBILE_HEADERS` header)
    is empty: the columns named as a phone but not used (``used``: position → target); [] when the phone column
    names no mobile (then the file's other phone columns are the person's choice to leave out)."""
    if normalise_header(header[phone]) not in MOBILE_HEADERS:
        return []
    return [i for i, name in enumerate(header)
            if i != phone and i not in used and SYNONYMS.get(normalise_header(name)) == "phone"]  # fmt: skip


def targets(columns: list[ColumnMapping]) -> dict[int, str]:
    """Column position → target, for the columns that are used."""
    return {c.position: c.target for c in columns if c.target != "ignore"}
