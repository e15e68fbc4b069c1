"""The things a customer's question names that a reply must not guess about: countries, payment
methods and proper names (a product, a collection).

``agent.answerability`` checks each of them against the passage a reply would be made from: a
passage that does not mention Japan must not answer "Yes" to "Do you ship to Japan?".

* **Places** are countries, from Babel's territory names in the six supported languages ("Japon",
  "Giappone", "Österreich"...), a few abbreviations (UK, USA, EU/UE), and the table shipped in
  ``agent/resources/places.yaml``: other names of a country ("Angleterre", "mainland France"),
  groups ("EU" / "Union européenne" covers the member states, "abroad" / "l'étranger" / "Ausland"
  every country but the business's own) and, in a question only, cities ("Bruxelles" asks about
  Belgium).
* **Payment methods** are a small multilingual table (PayPal, bank transfer / virement /
  Überweisung, cash / espèces / efectivo...).
* **A duration** is asked by "how long", "combien de temps", "cuánto tiempo", "wie lange"...; a
  passage supports it when it states one ("30 days", "2 à 4 jours", "24 h").
* **A price** is asked by "how much is", "combien coûte", "cuánto cuesta", "was kostet"...; a
  passage supports it when it states an amount ("4.90 EUR", "12 €"): "how much is delivery to
  Paris?" is answered by the shipping prices, not by the delivery times that share its words.
* **Topics** (returns, refund, shipping, payment, opening hours) are named by the words listed in
  ``agent/resources/topics.yaml``: a follow-up naming another topic than the earlier question is
  a new question, and a passage naming none of a question's topics is not preferred.
* **Names** are capitalised words in the middle of a sentence that are neither of the above
  ("the Solène duvet cover"): they are only checked against the knowledge base as a whole (a name
  it never mentions cannot be answered), German being skipped because it capitalises every noun.

Matching works on a folded form (lower case, no accents, punctuation as spaces).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from babel import Locale

from core.text import fold_words

EntityKind = Literal["country", "payment", "name", "duration", "price"]

#: The table of groups, aliases and cities (see the file's header).
PLACES_FILE = Path(__file__).resolve().parent / "resources" / "places.yaml"
#: The customer-service topics and their words (see the file's header).
TOPICS_FILE = Path(__file__).resolve().parent / "resources" / "topics.yaml"

#: The European Union (Babel's territory code) and "abroad" (every country but the business's own).
EU = "EU"
ABROAD = "ABROAD"

_LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
#: ... and the languages whose country names are read as well: Arabic is written in a script none of the six writes, so
#: none of its names is an ordinary word of theirs ("هل تشحنون إلى اليابان؟" was read without Japan: the EU terms)
_PLACE_NAME_LANGUAGES = (*_LANGUAGES, "ar")
# An Arabic word opening with a one-letter proclitic (and, with, to, then, like) joined to a name: "لإيطاليا" (to Italy)
_ARABIC_PROCLITIC = re.compile(r"(?<= )([وبلفك])([\u0621-\u064A]{3,})(?= )")

# Territory names that are also ordinary words in one of the languages ("réunion" is a meeting).
_AMBIGUOUS_PLACES = frozenset({"jersey", "turkey", "chad", "jordan", "georgia", "guernsey", "reunion", "man",
                               "maurice", "niger", "salvador", "dominica", "panama", "malta", "congo", "union",
                               "riunione", "reuniao"})

# Upper-case abbreviations only: "us" and "ue" are words.
_ABBREVIATIONS: dict[str, str] = {"UK": "GB", "U.K.": "GB", "GB": "GB", "US": "US", "USA": "US", "U.S.": "US",
                                  "EU": EU, "UE": EU}


PAYMENT_METHODS: dict[str, tuple[str, ...]] = {
    "paypal": ("paypal", "pay pal"),
    "visa": ("visa",),
    "mastercard": ("mastercard", "master card"),
    "amex": ("american express", "amex"),
    "apple_pay": ("apple pay", "applepay"),
    "google_pay": ("google pay", "gpay"),
    "alma": ("alma",),
    "klarna": ("klarna",),
    "scalapay": ("scalapay",),
    "oney": ("oney",),
    "bank_transfer": ("bank transfer", "bank transfers", "wire transfer", "wire transfers", "virement", "virements",
                      "virement bancaire", "transferencia", "transferencias", "transferencia bancaria", "uberweisung",
                      "bonifico", "bonifici", "bonifico bancario", "sepa"),
    "cash": ("cash", "especes", "en liquide", "efectivo", "bargeld", "contanti", "dinheiro", "cash on delivery",
             "contre remboursement", "contra reembolso", "nachnahme", "contrassegno", "pagamento na entrega",
             "a cobranca"),
    "cheque": ("cheque", "cheques", "scheck", "assegno", "cheque bancaire"),
    "crypto": ("bitcoin", "crypto", "cryptomonnaie", "criptomoneda", "kryptowahrung"),
    "mb_way": ("mb way", "mbway", "multibanco"),
    "bizum": ("bizum",),
    "bancontact": ("bancontact",),
    "satispay": ("satispay",),
    "twint": ("twint",),
    "lydia": ("lydia",),
    "sofort": ("sofort", "sofortuberweisung"),
    "ideal": ("ideal",),
    # paying after delivery against an invoice (Kauf auf Rechnung): not "where is my invoice"
    "invoice": ("per rechnung", "auf rechnung", "kauf auf rechnung", "rechnungskauf", "pay by invoice",
                "pay on invoice", "payment by invoice", "payer sur facture", "paiement sur facture",
                "pagar con factura", "pago con factura", "pagare con fattura", "pagamento su fattura",
                "op rekening", "achteraf betalen"),
}
# "ideal" is an ordinary word in four languages: only counted when written iDEAL
_CASE_SENSITIVE_PAYMENTS = {"ideal": "iDEAL"}
#: Methods named by a brand, the same word in every language: it tells nothing of the message's language
#: ("Posso pagar com MB Way?" read as Italian with "MB Way", as Portuguese without).
BRANDED_PAYMENTS = frozenset({"paypal", "visa", "mastercard", "amex", "apple_pay", "google_pay", "alma", "klarna",
                              "scalapay", "oney", "mb_way", "bizum", "bancontact", "satispay", "twint", "lydia",
                              "ideal"})

# Questions asking for a duration, over folded text.
_ASKS_DURATION = re.compile(
    r" (how long|how many (days|weeks|hours|months|years)|how much time|until when|by when|"
    r"jusqu a quand|hasta cuando|bis wann|fino a quando|entro quando|ate quando|"
    r"combien de (temps|jours|semaines|heures|mois|ans)|en combien de temps|quel (delai|duree)|"
    r"cuanto tiempo|cuantos (dias|meses|anos|horas)|que plazo|cuanto (tarda|tardan|tardais|demora)|"
    r"wie lange|wie ?viel zeit|wie viele (tage|wochen|stunden|monate|jahre)|"
    r"quanto tempo|quanti (giorni|mesi|anni)|quanto ci (mette|mettete|vuole)|"
    r"quantos (dias|meses|anos)|qual (e )?o prazo|"
    # how long something lasts, the verb's forms: "e quanto durano?", "¿y cuánto duran?", "elles durent combien ?"
    # (the materials section, or a person, answered them: no duration was asked)
    r"(quanto|cuanto) (dura|duran|durano|duram|durara|durera|durarao)|"
    r"(dure|durent|durera|dureront) combien|"
    # whether something expires asks how long it stays valid: "do they expire?" after the gift cards ("valid for one
    # year") went to a person, and so did "elles expirent ?", "¿caducan?", "scadono?", "verfallen sie?"
    r"expire|expires|expiry|expiration|expirent|expirer|expirera|expireront|caduca|caducan|caducidad|vencen|"
    r"scade|scadono|scadenza|verfallt|verfallen|ablaufdatum|expira|expiram|validade) "
)
# A stated duration: a number, in digits or a word for one, and a unit of time, over folded text ("30 jours",
# "2 year", "24 h", "valables un an", "valid for one year": the gift cards' "un an" stated none).
_DURATION = re.compile(
    r" (\d+|one|un|une|uno|una|ein|eine|einen|einem|um|uma) (working |business )?"
    r"(days?|weeks?|hours?|h|months?|years?|minutes?|jours?|semaines?|heures?|mois|ans?|"
    r"dias?|semanas?|horas?|meses|mes|anos?|tage?n?|wochen?|stunden?|monate?n?|jahre?n?|"
    r"giorni|giorno|settimane|settimana|ore|ora|mesi|mese|anni|anno) "
)

# Questions asking whether the business has or offers something, over folded text ("do you have a discount code
# for first order?", "vous avez un code promo ?"): a troubleshooting passage ("My promo code doesn't work") answers
# none of them.
_ASKS_AVAILABILITY = re.compile(
    r"^ (?:do you (?:have|offer|sell|do|give)|have you got|is there|are there|any |"
    r"(?:est ce que )?vous (?:avez|proposez|offrez|faites)|avez vous|proposez vous|il y a|y a t il|"
    r"(?:ustedes )?(?:tienen|teneis|ofrecen|ofreceis)|hay |"
    r"(?:haben sie|habt ihr|bieten sie|bietet ihr|gibt es)|"
    r"(?:avete|offrite|c e|ci sono)|"
    r"(?:voces )?(?:tem|tens|oferecem)|ha )"
)
# A passage reporting a problem ("My promo code doesn't work", "J'ai oublié mon mot de passe", "arrived damaged"),
# and a question reporting one, over folded text.
_REPORTS_PROBLEM = re.compile(
    r" (doesn t work|does not work|don t work|isn t working|not working|won t|can t|cannot|forgot|lost|broken|"
    r"damaged|invalid|rejected|declined|error|wrong|problem|"
    r"ne (?:fonctionne|marche|s applique) pas|(?:fonctionne|marche) pas|oublie|perdu|casse|abime|endommage|"
    r"invalide|refuse|erreur|probleme|"
    r"no funciona|no va|olvide|perdi|roto|rota|danado|invalido|rechazado|problema|"
    r"funktioniert nicht|geht nicht|vergessen|verloren|kaputt|beschadigt|ungultig|abgelehnt|fehler|"
    r"non funziona|non va|dimenticato|perso|rotto|danneggiato|non valido|rifiutato|errore|"
    r"nao funciona|esqueci|perdi|partido|estragado|danificado|recusado|erro) "
)


# Asking for the business's phone number or e-mail address, over folded text ("Quel est le numéro de téléphone du
# service client ?" got the shop's hours, which state none); not the customer's own ("Can I change my e-mail address?").
_CONTACT_WORDS = {
    "phone": r"(?:phone|telephone|mobile) (?:number|no)|number to call|contact number|"
             r"numero de (?:telephone|tel|telefono|telefone|telemovel|celular)|"
             r"numero (?:di telefono|telefonico|de whatsapp|whatsapp)|telefonnummer|rufnummer|handynummer|hotline",
    "email": r"e ?mail address|mail address|adresse (?:e ?mail|mail|electronique)|courriel|correo(?: electronico)?|"
             r"direccion de (?:e ?mail|correo)|e ?mail adresse|e ?mailadresse|mailadresse|"
             r"indirizzo (?:e ?mail|di posta)|posta elettronica|endereco (?:de )?(?:e ?mail|eletronico)|"
             r"correio eletronico",
}
_OWN = r"(?:my|mon|ma|mes|mi|mis|mein|meine|meinen|meiner|mio|mia|miei|meu|minha|meus) (?:new |nouveau |nouvelle )?"
_ASKS_CONTACT = {kind: re.compile(rf" (?:{words})(?= )") for kind, words in _CONTACT_WORDS.items()}
_OWN_CONTACT = {kind: re.compile(rf" {_OWN}(?:{words})(?= )") for kind, words in _CONTACT_WORDS.items()}
_STATES_CONTACT = {"phone": re.compile(r"(?:\+\d{1,3}|\b0\d)(?:[ .-]?\d){7,}"),
                   "email": re.compile(r"[\w.+-]+@[\w-]+\.\w+")}


def asks_contact(text: str) -> frozenset[str]:
    """What way of reaching the business ``text`` asks for: ``phone``, ``email`` (not the customer's own)."""
    folded = fold(text)
    return frozenset(kind for kind, pattern in _ASKS_CONTACT.items()
                     if pattern.search(folded) and not _OWN_CONTACT[kind].search(folded))


def states_contact(text: str, kind: str) -> bool:
    """Whether a passage's ``text`` gives a phone number (``phone``) or an e-mail address (``email``)."""
    return _STATES_CONTACT[kind].search(text) is not None


def asks_availability(text: str) -> bool:
    """Whether ``text`` asks whether the business has or offers something ("do you have a discount code?")."""
    return _ASKS_AVAILABILITY.match(fold(text)) is not None


def reports_problem(text: str) -> bool:
    """Whether ``text`` reports a problem ("my code doesn't work", "j'ai oublié mon mot de passe")."""
    return _REPORTS_PROBLEM.search(fold(text)) is not None


# Questions asking for a price, over folded text ("how much time" asks a duration).
_ASKS_PRICE = re.compile(
    r" (how much(?! time )|cost|costs|price|prices|fee|fees|charge|charges|"
    r"combien (coute|coutent|ca coute|ca fait|pour)|c est combien|prix|tarif|tarifs|frais|"
    r"cuanto (cuesta|cuestan|vale|valen|es|sale|cobrais|cobran)|precio|precios|coste|costo|costos|tarifa|"
    r"was kostet|was kosten|wie viel kostet|wieviel kostet|kostet|\w*kosten|\w*preise?|\w*gebuhren?|"
    r"quanto (costa|costano|viene|si paga)|prezzo|prezzi|costi|tariffa|"
    r"quanto (custa|custam|e o envio|fica)|preco|precos|custo|custos|portes|"
    # the amount something starts from ("e da quale importo?" after the instalments got the payment methods)
    r"what amount|which amount|minimum amount|quel montant|montant minimum|a partir de combien|des combien|"
    r"que importe|cual es el importe|importe minimo|a partir de cuanto(?! tiempo)|desde cuanto(?! tiempo)|"
    r"welcher betrag|welchem betrag|mindestbetrag|ab wie ?viel(?! zeit| tage)|"
    r"quale importo|importo minimo|da quanto(?! tempo)|a partire da quanto(?! tempo)|"
    r"qual o valor|que valor|valor minimo|a partir de quanto(?! tempo)|"
    # the bare word, the whole text: "combien ?", "¿cuánto?", "wie viel?", "quanto?" right after "Livrez-vous en
    # Irlande ?" ask the price there, as "how much?" does (read alone they were a greeting: a person)
    r"(?<=^ )(?:combien|cuanto|wie ?viel|quanto)(?= $)) "
)
# Something said to cost nothing, over folded text: a passage saying so states its price ("Returns are free in
# France" answers "is there a fee to send something back", which got the shipping prices as the one passage naming
# amounts), and a question asking it asks one ("c'est gratuit ?" after an exchange got the next passage, the
# address change, as its first answer was not to be repeated).
_FREE = re.compile(r" (free|gratuit|gratuite|gratuits|gratuites|offert|offerte|offerts|offertes|gratis|gratuito|"
                   r"gratuita|gratuitos|gratuitas|kostenlos|kostenlose|kostenlosen|umsonst) ")
# A question whether something must be paid for asks its price too ("c'est payant ?", "ist das kostenpflichtig?"),
# and so does one asking whether the customer has to pay ("Do I have to pay anything to send them back?" got the
# return steps, where "Returns are free in France" answers), or who pays ("Who pays for return shipping?" got the
# return steps' "prepaid return label" before the return policy's "Returns are free in France").
_ASKS_PAID = re.compile(
    r" (payant|payante|payants|payantes|kostenpflichtig|a pagamento|"
    r"who (pays|will pay|has to pay|covers)|qui (paie|paye|payera|doit payer|prend en charge)|"
    r"quien (paga|pagara|tiene que pagar|cubre)|wer (zahlt|bezahlt|ubernimmt|tragt)|chi (paga|paghera|deve pagare)|"
    r"quem (paga|pagara|tem de pagar|tem que pagar)|"
    # "¿es de pago?" asks whether it is paid, "¿qué formas de pago aceptáis?" asks the methods
    r"(?<!formas )(?<!forma )(?<!medios )(?<!medio )(?<!metodos )(?<!metodo )de pago|"
    r"(have|need) to pay|pay (anything|something|extra)|payer quelque chose|(dois je|faut il|il faut|dois|faut) payer|"
    r"(tengo|tiene|hay) que pagar|pagar algo|muss ich (etwas |was )?(be)?zahlen|etwas (be)?zahlen|"
    r"(devo|bisogna) pagare|pagare qualcosa|(tenho|preciso) (de |que )?pagar|pagar alguma coisa) ")
# A stated amount of money, over folded text ("4 90 eur", "12 euros", "eur 20"); folding drops "€".
_PRICE = re.compile(r" \d+( \d+)? (eur|euro|euros|chf|gbp|usd) | (eur|chf|gbp|usd) \d+ ")
_PRICE_SIGN = re.compile(r"\d\s?[€£$]|[€£$]\s?\d")

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CLAUSE_START = re.compile(r"(^|[.!?¡¿:;,\n]\s*)$")


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing the question names: ``kind``, a canonical ``value`` (ISO code, method id, folded
    name) and the words as written."""

    kind: EntityKind
    value: str
    surface: str


@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower case, accents dropped, every non-alphanumeric run a single space (with one at each end).

    Memoised: one message's question is folded by every check (places, payment methods, durations,
    topics) and the same knowledge-base sentences by every answer composed from them; unmemoised,
    the per-character work was an eighth of the inbound worker's processor time.
    """
    return f" {fold_words(text)} "


@dataclass(frozen=True, slots=True)
class PlaceTable:
    """``agent/resources/places.yaml`` folded: group members, and folded name -> code for the groups'
    names and the aliases (``names``) and for the cities (``cities``, the capitalised ones included);
    ``capitalised`` the cities only recognised written with a capital inside a sentence, as written; ``regions``
    the parts of a country named apart (region code -> its country's)."""

    eu_members: frozenset[str]
    names: dict[str, str]
    cities: dict[str, str]
    capitalised: frozenset[str] = frozenset()
    regions: dict[str, str] = field(default_factory=dict)


@functools.cache
def place_table() -> PlaceTable:
    """The shipped table of place groups, aliases and cities."""
    data = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for code, group in data["groups"].items():
        names.update((fold(name).strip(), code) for name in group["names"])
    for code, aliases in data["aliases"].items():
        names.update((fold(name).strip(), code) for name in aliases)
    regions = data.get("regions", {})
    for code, region in regions.items():
        names.update((fold(name).strip(), code) for name in region["names"])
    cities = {fold(name).strip(): code for code, listed in data["cities"].items() for name in listed}
    capitalised = data.get("capitalised_cities", {})
    cities.update((fold(name).strip(), code) for code, listed in capitalised.items() for name in listed)
    return PlaceTable(eu_members=frozenset(data["groups"][EU]["members"]), names=names, cities=cities,
                      capitalised=frozenset(name for listed in capitalised.values() for name in listed),
                      regions={code: region["country"] for code, region in regions.items()})


@functools.cache
def _places() -> dict[str, str]:
    """Folded place name -> territory code (countries, the EU and "abroad"), in the six languages."""
    names: dict[str, str] = {}
    for language in _PLACE_NAME_LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if (len(code) == 2 and code.isalpha()) or code == EU:
                key = fold(name).strip()
                if key and key not in _AMBIGUOUS_PLACES:
                    names.setdefault(key, code)
    names.update(place_table().names)
    return names


@functools.cache
def _arabic_first_words() -> frozenset[str]:
    """The first words of the Arabic place names (folded)."""
    return frozenset(name.split()[0] for name in _places() if "\u0621" <= name[0] <= "\u064a")


def _place_text(folded: str) -> str:
    """``folded`` with an Arabic proclitic parted from the place name it is joined to ("لايطاليا" -> "ل ايطاليا",
    "للمغرب" -> "ل المغرب"): only before a name, so "بلجيكا" (Belgium) stays whole."""
    if _ARABIC_PROCLITIC.search(folded) is None:
        return folded
    first = _arabic_first_words()

    def part(match: re.Match[str]) -> str:
        word, rest = match.group(0), match.group(2)
        if word in first:
            return word
        # "ل" before "ال" drops the alif: "للمغرب" is "ل" + "المغرب"
        for name in (rest, f"ا{rest}" if match.group(1) == "ل" and rest.startswith("ل") else ""):
            if name in first:
                return f"{match.group(1)} {name}"
        return word

    return _ARABIC_PROCLITIC.sub(part, folded)


@functools.cache
def _place_pattern() -> re.Pattern[str]:
    names = sorted(_places(), key=len, reverse=True)
    return re.compile(r" (" + "|".join(re.escape(n) for n in names) + r") ")


@functools.cache
def _payment_index() -> dict[str, str]:
    return {fold(alias).strip(): method for method, aliases in PAYMENT_METHODS.items() for alias in aliases
            if method not in _CASE_SENSITIVE_PAYMENTS}


def _find_all(pattern: re.Pattern[str], folded: str) -> list[str]:
    """Every match of `` (name) `` in ``folded``, overlapping on the shared spaces."""
    found: list[str] = []
    position = 0
    while True:
        match = pattern.search(folded, position)
        if match is None:
            return found
        found.append(match.group(1))
        position = match.end() - 1


@functools.cache
def _city_pattern() -> re.Pattern[str]:
    table = place_table()
    capitalised = {fold(name).strip() for name in table.capitalised}
    names = sorted((name for name in table.cities if name not in capitalised), key=len, reverse=True)
    return re.compile(r" (" + "|".join(re.escape(n) for n in names) + r") ")


@functools.cache
def _capitalised_city_pattern() -> re.Pattern[str]:
    names = sorted(place_table().capitalised, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def _city_names(text: str) -> list[str]:
    """The cities ``text`` names, folded: those of the table, then those that are also ordinary words
    when written with a capital inside a sentence ("para o Porto", not "Porto il pacco")."""
    found = _find_all(_city_pattern(), fold(text))
    for match in _capitalised_city_pattern().finditer(text):
        if not _CLAUSE_START.search(text[: match.start()]):
            found.append(fold(match.group(0)).strip())
    return found


def city_names(text: str) -> list[str]:
    """The cities ``text`` names, folded ("¿Tenéis tienda en París?": ``paris``)."""
    return _city_names(text)


def place_words(text: str) -> list[str]:
    """The place names ``text`` holds (countries, groups and cities, folded: ``bruselas``), in order."""
    return _find_all(_place_pattern(), _place_text(fold(text))) + _city_names(text)


def with_city_countries(text: str, language: str, home: str | None = None) -> str:
    """``text`` followed by the names, in ``language``, of the countries of the cities it names
    other than ``home``'s: "¿Cuántos días tarda un pedido a Madrid? (España)".

    A passage states terms per country or group ("we deliver to the EU..."), never per city: the
    city's name alone leaves the question far from it (cosine 0.250 for Madrid, 0.29 with
    "(España)" added), under what a passage moved first for a place needs."""
    codes = dict.fromkeys(place_table().cities[name] for name in _city_names(text))
    territories = Locale.parse(language if language in _LANGUAGES else "en").territories
    named = [territories[code] for code in codes if code != home and code in territories]
    return f"{text} ({', '.join(named)})" if named else text


def countries(text: str, *, cities: bool = False) -> set[str]:
    """Territory codes (ISO 3166 alpha-2, ``EU`` or ``ABROAD``) that ``text`` names; with ``cities``,
    a city of the table names its country too (a question's "livraison à Bruxelles")."""
    return set(_countries(text, cities))


@functools.lru_cache(maxsize=8192)
def _countries(text: str, cities: bool) -> frozenset[str]:
    """:func:`countries`, memoised: the pipeline asks it of a message about five times (the search's
    places, the passage checks, the intent's guard) and of the passages' sentences for every answer."""
    folded = fold(text)
    codes = {_places()[name] for name in _find_all(_place_pattern(), _place_text(folded))}
    if cities:
        codes |= {place_table().cities[name] for name in _city_names(text)}
    for token in re.findall(r"\b[A-Z][A-Z.]{1,3}(?![\w.])|\b[A-Z]\.[A-Z]\.", text):
        if token in _ABBREVIATIONS:
            codes.add(_ABBREVIATIONS[token])
    return frozenset(codes)


@functools.cache
def _payment_pattern() -> re.Pattern[str]:
    aliases = sorted(_payment_index(), key=len, reverse=True)
    return re.compile(r" (" + "|".join(re.escape(a) for a in aliases) + r") ")


def payment_methods(text: str) -> set[str]:
    """Payment method ids (``paypal``, ``bank_transfer``...) that ``text`` names."""
    return set(payment_mentions(text))


def payment_mentions(text: str) -> dict[str, str]:
    """Payment method id -> the words ``text`` names it with, as written ("bank_transfer": "Überweisung")."""
    words = [(m.start(), m.end(), fold(m.group(0)).strip()) for m in re.finditer(r"\w+", text)]
    mentions: dict[str, str] = {}
    for alias in _find_all(_payment_pattern(), fold(text)):
        parts = alias.split()
        for n in range(len(words) - len(parts) + 1):
            if [w[2] for w in words[n:n + len(parts)]] == parts:
                mentions.setdefault(_payment_index()[alias], text[words[n][0]:words[n + len(parts) - 1][1]])
                break
    for method, written in _CASE_SENSITIVE_PAYMENTS.items():
        if written in text:
            mentions.setdefault(method, written)
    return mentions


def without_brands(text: str) -> str:
    """``text`` without the payment brands it names (:data:`BRANDED_PAYMENTS`), for language detection."""
    for method, written in payment_mentions(text).items():
        if method in BRANDED_PAYMENTS:
            text = text.replace(written, " ")
    return text


@functools.cache
def _shared_place_names() -> re.Pattern[str]:
    """Folded country names that two or more of the six languages write alike ("portugal", "canada")."""
    spelt: dict[str, set[str]] = {}
    for language in _LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                spelt.setdefault(fold(name).strip(), set()).add(language)
    shared = sorted((name for name, languages in spelt.items() if len(languages) > 1 and name), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in shared) + r")\b", re.IGNORECASE)


def without_shared_places(text: str) -> str:
    """``text`` without the country names several of the six languages write alike, for language
    detection: they say nothing of the language, and weigh in a short question ("Hello, do you ship to
    Portugal?" from a French number was answered in French). Names written with accents are kept."""
    return _shared_place_names().sub(" ", text)


@functools.cache
def _calendar_words() -> frozenset[str]:
    """Folded weekday and month names (wide and abbreviated, singular and plural) in the six
    languages: English capitalises them ("open on Sunday?") but they name no product."""
    words: set[str] = set()
    for language in _LANGUAGES:
        locale = Locale.parse(language)
        for table in (locale.days, locale.months):
            for width in ("wide", "abbreviated"):
                for name in table["format"][width].values():
                    key = fold(name).strip()
                    words |= {key, f"{key}s"}
    return frozenset(words)


@functools.cache
def _known_words() -> frozenset[str]:
    phrases = (*_places(), *place_table().cities, *_payment_index())
    return frozenset(word for phrase in phrases for word in phrase.split()) | _calendar_words()


def names(text: str, language: str) -> set[str]:
    """Folded capitalised words in the middle of a sentence that are no place or payment method
    (empty for German, which capitalises every noun)."""
    if language == "de":
        return set()
    known = _known_words()
    found: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group(0)
        if not word[0].isupper() or len(word) < 3 or word.isupper() or word[:2] in ("I'", "I’"):
            continue
        if _CLAUSE_START.search(text[: match.start()]):
            continue
        key = fold(word).strip()
        # a hyphenated place name ("États-Unis", "Royaume-Uni") is one token of known words
        if key and key not in known and not all(part in known for part in key.split()):
            found.add(key)
    return found


@functools.cache
def _topic_patterns() -> dict[str, re.Pattern[str]]:
    """Topic -> a pattern of its words over folded text (``agent/resources/topics.yaml``)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return {topic: words_pattern(entry["words"]) for topic, entry in data.items()}


@functools.cache
def _topic_look_alikes() -> dict[str, re.Pattern[str]]:
    """Topic -> a pattern of the phrases holding one of its words that do not name it (``unless`` in topics.yaml:
    "sera de retour" is being back in stock, not a return)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return {topic: words_pattern(entry["unless"]) for topic, entry in data.items() if entry.get("unless")}


#: Words a split phrase ("schick* .. zuruck") may hold between its two parts.
SPLIT_GAP_WORDS = 3


def words_pattern(words: Sequence[str]) -> re.Pattern[str]:
    """A pattern over folded text (:func:`fold`) finding any of ``words``, written folded: a word ending
    in "*" matches every word it begins, the others whole words (or phrases) only; one opening with "^" only
    where it opens the text ("^hours": "hours?" asks the opening hours, "24 hours" is a delivery time). A phrase
    written "a .. b" matches "a" and "b" with up to :data:`SPLIT_GAP_WORDS` words between them: a German separable
    verb puts its particle at the clause's end ("Wie schicke ich etwas zurück…": ``schick* .. zuruck``), an English
    phrasal verb its object inside ("send the lamp back": ``send .. back``)."""
    def one(word: str) -> str:
        return re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word)

    escaped = [(r"(?<=^ )" if w.startswith("^") else "")
               + rf"(?: \w+){{0,{SPLIT_GAP_WORDS}}} ".join(one(part.strip()) for part in w.lstrip("^").split(" .. "))
               for w in words]
    return re.compile(r" (" + "|".join(escaped) + r") ")


@functools.cache
def asked_topics() -> frozenset[str]:
    """The topics a question naming them asks about (``asked: true`` in ``topics.yaml``: ``materials``)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return frozenset(topic for topic, entry in data.items() if entry.get("asked"))


@functools.cache
def product_topics() -> frozenset[str]:
    """The asked topics a question asks of the product it names (``of_product: true`` in ``topics.yaml``: what the
    sofa is made of is not what the lampshades are made of), unlike when an item is back in stock or the loyalty
    club ("When will the linen duvet cover be back in stock?" is answered by the restocking delay)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return frozenset(topic for topic, entry in data.items() if entry.get("of_product"))


@functools.cache
def requested_topics() -> frozenset[str]:
    """The topics a statement naming them asks about too (``asked: request`` in ``topics.yaml``: ``cancellation``):
    "Hola, quiero anular mi pedido" asks how to cancel as "¿Puedo anular mi pedido?" does."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return frozenset(topic for topic, entry in data.items() if entry.get("asked") == "request")


def without_topic_words(text: str, named: AbstractSet[str]) -> str:
    """``text`` folded, without the words naming the topics ``named``: what a question asking about a topic
    asks it of ("¿De qué están hechas las velas?" -> "de que las velas")."""
    folded = fold(text)
    for topic in sorted(named):
        # the pattern holds a space on each side: run it twice for words side by side
        for _ in range(2):
            folded = _topic_patterns()[topic].sub("  ", folded)
    return " ".join(folded.split())


@functools.cache
def topic_terms(topic: str) -> tuple[str, ...]:
    """The words of ``topic`` a keyword search looks for (its one-word entries, without their "*")."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return tuple(dict.fromkeys(w.strip("*^") for w in data[topic]["words"] if " " not in w.rstrip("*")))


@functools.cache
def topic_names() -> dict[str, str]:
    """Topic -> its name for the models ("returns", "opening hours")."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return {topic: entry["name"] for topic, entry in data.items()}


@functools.cache
def _duration_topic_patterns() -> dict[str, re.Pattern[str]]:
    """Topic -> a pattern of the words naming it in a question asking how long (``with_duration`` in topics.yaml)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return {topic: words_pattern(entry["with_duration"]) for topic, entry in data.items() if entry.get("with_duration")}


def topics(text: str) -> set[str]:
    """The customer-service topics ``text`` names by their words (``returns``, ``shipping``...), and, when it asks how
    long, by the words naming a topic in such a question only: "How long does a candle take to arrive?" asks the
    delivery times, "when will it arrive?" when a parcel comes."""
    folded = fold(text)
    unless = _topic_look_alikes()
    named = {topic for topic, pattern in _topic_patterns().items()
             if pattern.search(unless[topic].sub("  ", folded) if topic in unless else folded)}
    if _ASKS_DURATION.search(folded) is not None:
        named |= {topic for topic, pattern in _duration_topic_patterns().items() if pattern.search(folded)}
    return named


@functools.cache
def _topic_includes() -> dict[str, frozenset[str]]:
    """Topic -> the topics a question naming it with them asks about through it (``includes`` in topics.yaml)."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return {topic: frozenset(entry.get("includes", ())) for topic, entry in data.items()}


def subject_topics(text: str) -> set[str]:
    """The topics a question is about: those it names, less those another one it names includes. "Who pays for return
    shipping?" names returns and shipping, and is about returns: the shipping of a return (``includes`` in
    ``agent/resources/topics.yaml``)."""
    named = topics(text)
    return {topic for topic in named if not any(topic in _topic_includes()[other] for other in named - {topic})}


PRODUCTS_FILE = Path(__file__).resolve().parent / "resources" / "products.yaml"


@functools.cache
def _product_patterns() -> dict[str, tuple[re.Pattern[str], re.Pattern[str], bool]]:
    """Kind of product -> (a pattern of the words naming it, of the words a passage states it with, whether it has
    terms of its own)."""
    data = yaml.safe_load(PRODUCTS_FILE.read_text(encoding="utf-8"))["products"]
    return {kind: (words_pattern(entry["words"]), words_pattern(entry["stated"]), bool(entry.get("own_terms", True)))
            for kind, entry in data.items()}


def products(text: str) -> set[str]:
    """The kinds of product with terms of their own ``text`` names ("e per un divano?": ``furniture``;
    ``agent/resources/products.yaml``)."""
    folded = fold(text)
    return {kind for kind, (named, _, own) in _product_patterns().items() if own and named.search(folded)}


def named_products(text: str) -> set[str]:
    """Every kind of product ``text`` names, those without terms of their own too ("las velas": ``candles``)."""
    folded = fold(text)
    return {kind for kind, (named, _, _) in _product_patterns().items() if named.search(folded)}


def product_words(text: str) -> list[str]:
    """The folded words by which ``text`` names kinds of product ("bougies" in "Vous faites des bougies ?"), in order:
    a follow-up on another topic carries them ("elles sont en quelle cire ?" asks the candles' wax)."""
    folded = fold(text)
    found = [m.group(1) for named, _, _ in _product_patterns().values() for m in named.finditer(folded)]
    return sorted(dict.fromkeys(found), key=folded.index)


def product_kinds() -> frozenset[str]:
    """Every kind of product ``agent/resources/products.yaml`` names."""
    return frozenset(_product_patterns())


def states_product(text: str, kind: str) -> bool:
    """Whether a passage's ``text`` states something of the kind of product ``kind`` ("Furniture is delivered
    for 29 EUR.")."""
    return _product_patterns()[kind][1].search(fold(text)) is not None


def states_products(text: str, kinds: AbstractSet[str]) -> bool:
    """Whether a passage's ``text`` states every kind of product in ``kinds``."""
    return all(states_product(text, kind) for kind in kinds)


def product_stems(kind: str) -> set[str]:
    """The stems (first five letters) of the words a passage states ``kind`` with: they pick its sentence."""
    data = yaml.safe_load(PRODUCTS_FILE.read_text(encoding="utf-8"))["products"]
    return {word.rstrip("*")[:5] for word in data[kind]["stated"]}


def asks_duration(text: str) -> bool:
    """Whether ``text`` asks how long something takes or lasts."""
    return _ASKS_DURATION.search(fold(text)) is not None


# The verbs of lasting, over folded text: how long a thing lasts or burns is the thing's own ("e quanto durano le
# candele?"), where how long something takes ("¿y cuánto tarda un sofá?") is a delivery's or a process's.
_LASTS = re.compile(
    r" (last|lasts|burn|burns|dure|durent|durer|durera|dureront|brule|brulent|bruler|dura|duran|durar|durara|duraran|"
    r"quema|queman|durano|durare|brucia|bruciano|halt|halten|halte|brennt|brennen|duram|queima|queimam) ")


# Asking how to do something, over folded text: "How do I return a candle?" asks the steps, "Can I return a candle?"
# whether one may.
_ASKS_HOW = re.compile(r" (how (do|can|could|should|would|does|to)|comment|como|wie|come) ")


def asks_how(text: str) -> bool:
    """Whether ``text`` asks how to do something ("How do I return a candle?", "Comment retourner une bougie ?",
    "¿Cómo devuelvo una vela?", "Wie schicke ich eine Kerze zurück?", "Come faccio a restituire una candela?")."""
    return _ASKS_HOW.search(fold(text)) is not None


def asks_lifetime(text: str) -> bool:
    """Whether ``text`` asks how long something lasts (a duration and a verb of lasting: "How long do candles
    burn?", "e quanto durano le candele?", "Wie lange hält eine Kerze?"), not how long something takes."""
    folded = fold(text)
    return _ASKS_DURATION.search(folded) is not None and _LASTS.search(folded) is not None


def states_duration(text: str) -> bool:
    """Whether ``text`` states a duration (a number, or a word for one, and a unit of time)."""
    return _DURATION.search(fold(text)) is not None


def duration_words(text: str) -> set[str]:
    """The folded words of the durations ``text`` states ("3 semaines" -> {"3", "semaines"})."""
    return {word for found in _DURATION.finditer(fold(text)) for word in found.group(0).split()}


_AMOUNT = re.compile(r"(\d+(?:[.,]\d{1,2})?)\s?(?:€|eur\b|euros?\b)", re.IGNORECASE)
# An amount something starts from, over folded text ("from 100 EUR", "dès 100 EUR", "ab 100 EUR", "desde 100 EUR")
_MINIMUM = re.compile(r" (from|over|des|a partir de|ab|desde|da|a partire da) (\d+) (eur|euro|euros) ")


def amounts(text: str) -> list[float]:
    """The amounts of money ``text`` states ("80 euros", "80€", "4,90 EUR")."""
    return [float(number.replace(",", ".")) for number in _AMOUNT.findall(text)]


def minimum_amounts(text: str) -> list[float]:
    """The amounts ``text`` says something starts from ("from 100 EUR", "dès 100 EUR")."""
    return [float(match[1]) for match in _MINIMUM.findall(fold(text))]


def asks_price(text: str) -> bool:
    """Whether ``text`` asks what something costs."""
    return _ASKS_PRICE.search(fold(text)) is not None


def asks_if_free(text: str) -> bool:
    """Whether ``text`` asks whether something is free or must be paid for ("is it free?", "c'est payant ?"):
    a passage stating a price or saying it is free answers it, as it answers :func:`asks_price`. Not a
    question of its own after another (``agent.context``): "¿es gratis?" read with a return question was
    an opt-out at 0.45."""
    folded = fold(text)
    return "?" in text and (_FREE.search(folded) is not None or _ASKS_PAID.search(folded) is not None)


def states_price(text: str) -> bool:
    """Whether ``text`` states an amount of money ("4.90 EUR", "12 €") or that something is free."""
    folded = fold(text)
    return _PRICE.search(folded) is not None or _PRICE_SIGN.search(text) is not None or \
        _FREE.search(folded) is not None


_MEASURE = re.compile(r"(?<= )(\d+) ?(kg|g|cm|mm|ml|cl|l)(?= )")


def measures(text: str) -> set[str]:
    """The weights, sizes and volumes ``text`` states, folded ("400 g", "400g" and "400 G" are "400 g"): a
    question naming one ("¿Tenéis velas de 400 g?") is answered by a passage stating it ("…the 400 g ones…")."""
    return {f"{number} {unit}" for number, unit in _MEASURE.findall(fold(text))}


_ASKS_SIZE = re.compile(
    r" (what size|what sizes|which size|which sizes|how big|how large|how heavy|what weight|how much do(es)? \w+ weigh|"
    r"quelle taille|quelles tailles|quel poids|combien pese|combien pesent|pese combien|pesent combien|"
    r"quelles dimensions|quelle dimension|"
    r"que tamano|que tamanos|cuanto pesa|cuanto pesan|que peso|"
    r"welche grosse|welche grossen|wie gross|wie schwer|welches gewicht|wie ?viel (wiegt|wiegen)|"
    r"che dimensioni|che misura|che misure|quanto pesa|quanto pesano|che peso|"
    r"que tamanho|quais tamanhos|qual tamanho|quanto pesam|qual o peso) "
)


def asks_size(text: str) -> bool:
    """Whether ``text`` asks how big or heavy something is ("vos bougies font quelle taille ?", "wie schwer ist…")."""
    return _ASKS_SIZE.search(fold(text)) is not None


def without_measures(text: str) -> str:
    """``text`` without the weights, sizes and volumes it states: "Vendete candele da 180 g?" was read as German
    (0.32), the "g" weighing; the measure says nothing of the language."""
    return re.sub(r"\b\d+(?:[.,]\d+)?\s?(?:kg|g|cm|mm|ml|cl|l)\b", " ", text, flags=re.IGNORECASE)


def entities(text: str, language: str) -> tuple[Entity, ...]:
    """Every entity ``text`` names: countries, payment methods, names, then an asked duration and price."""
    out = [Entity("country", code, code) for code in sorted(countries(text, cities=True))]
    out += [Entity("payment", method, written) for method, written in sorted(payment_mentions(text).items())]
    out += [Entity("name", name, name) for name in sorted(names(text, language))]
    if asks_duration(text):
        out.append(Entity("duration", "duration", "duration"))
    if asks_price(text) or asks_if_free(text):
        out.append(Entity("price", "price", "price"))
    return tuple(out)


def place_terms(code: str, home: str | None = None) -> list[str]:
    """Folded names, in the six languages, a passage stating the terms for ``code`` would use: the
    country's own names, and its groups' ("EU" / "Union européenne" for a member state, "abroad" /
    "l'étranger" for any country but ``home``). Cities are not among them: a passage naming a city
    says where something is (:data:`PLACES_FILE`).

    A question about Madrid asks the terms that hold for Spain, which the demo states as "we deliver
    to the EU..." and "Livrez-vous à l'étranger ?": the keyword search for these words finds them
    when the question's wording does not (``agent.pipeline.retrieve``).
    """
    covering = {code}
    if code in place_table().eu_members:
        covering.add(EU)
    if code not in (home, ABROAD) and code not in place_table().regions:  # a region's own names only
        covering.add(ABROAD)
    terms = [name for name, place in _places().items() if place in covering]
    terms += [short.lower() for short, place in _ABBREVIATIONS.items() if place in covering and short.isalpha()]
    return list(dict.fromkeys(terms))


def covers_country(passage_countries: AbstractSet[str], code: str, home: str | None = None) -> bool:
    """Whether a passage naming ``passage_countries`` says something about ``code`` (a country,
    ``EU`` or ``ABROAD``), for a business based in ``home`` (its ``default_region``).

    A group covers its members: "EU" the member states, an unrestricted "abroad" ("we ship abroad
    for 15 EUR", nothing more specific) every country but ``home``. A passage about abroad is not
    about ``home``: "Do you ship abroad? We deliver to the EU..." does not give France's terms.
    A region (Corsica, the Azores: ``regions`` in :data:`PLACES_FILE`) is covered by its own name only: "mainland
    France" leaves Corsica out where "France métropolitaine" takes it in, and islands often pay more.
    """
    if code in passage_countries:
        return True
    if code in place_table().regions:
        return False
    abroad = ABROAD in passage_countries
    if code == ABROAD:
        return any(place not in (home, ABROAD) for place in passage_countries)
    if code == home and abroad:
        return False
    if code in place_table().eu_members and EU in passage_countries:
        return True
    return abroad and code != home and not passage_countries - {ABROAD, home}
