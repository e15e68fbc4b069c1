"""What a marketer's brief asks for, as language-neutral slots the offline generator can phrase.

A brief is free text in any language plus optional fields (offer, product, deadline, link). The
offline generator cannot translate, so it never copies the brief's words into a variant; it reads
the things that carry across languages: an offer (a percentage, an amount, free delivery, "3 for
2"), a deadline (a date, a weekday, today / tomorrow / this weekend, in any of the six
languages), a link, an occasion (sale, Christmas, Black Friday...) and a product. A product that
is a name ("Aurora", quoted, or with a digit) is used as written everywhere; a common noun
("linen shirts") is only used in the language it is written in, unless ``product_names`` gives
it in others. ``notes`` says, in words, whatever was given but could not be used.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from babel import Locale

from agent.language import SUPPORTED_LANGUAGES, detect_language

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]", re.IGNORECASE)
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,2})\s?%")
_AMOUNT = re.compile(r"([€£$])\s?(\d{1,4})(?![\d%.,])|(?<![\d.,])(\d{1,4})\s?(€|£|\$|euros?\b|eur\b)", re.IGNORECASE)
_CURRENCY = {"€": "€", "£": "£", "$": "$", "eur": "€", "euro": "€", "euros": "€"}
_FREE_SHIPPING = re.compile(
    r"free\s+(?:delivery|shipping)|livraison\s+(?:gratuite|offerte)|frais\s+de\s+port\s+offerts|"
    r"env[ií]o\s+gratis|kostenlose[rn]?\s+versand|versandkostenfrei|spedizione\s+gratuita|"
    r"(?:frete|entrega|portes)\s+gr[aá]tis", re.IGNORECASE)
_BUNDLE = re.compile(r"(?<![\d.,%])(\d)\s?(?:for|pour|por|für|per|x)\s?(\d)(?![\d%])", re.IGNORECASE)
_ONE_PLUS_ONE = re.compile(r"(?<![\d.,])1\s?\+\s?1(?![\d.,])")
_ISO_DATE = re.compile(r"\b(20\d\d)-(\d{1,2})-(\d{1,2})\b")
_NUMERIC_DATE = re.compile(r"(?<![\d.,/])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}|\d{2}))?(?![\d/]|\.\d)")
_TODAY = re.compile(r"\b(?:today|tonight|aujourd.hui|ce\s+soir|hoy|esta\s+noche|heute|oggi|stasera|hoje|"
                    r"esta\s+noite)\b", re.IGNORECASE)
_TOMORROW = re.compile(r"\b(?:tomorrow|demain|mañana|morgen|domani|amanhã)\b", re.IGNORECASE)
_WEEKEND = re.compile(r"\b(?:week-?end|fin\s+de\s+semana|wochenende|fine\s+settimana|fim\s+de\s+semana)\b",
                      re.IGNORECASE)
_OCCASION_PATTERNS = (
    ("black_friday", r"black\s*friday"),
    ("winter_sale", r"winter[-\s]?(?:sale|schlussverkauf)|soldes\s+d.hiver|rebajas\s+de\s+invierno|"
                    r"saldi\s+invernali|saldos\s+de\s+inverno"),
    ("summer_sale", r"summer[-\s]?sale|sommer[-\s]?(?:sale|schlussverkauf)|soldes\s+d.[eé]t[eé]|"
                    r"rebajas\s+de\s+verano|saldi\s+estivi|saldos\s+de\s+ver[aã]o"),
    ("christmas", r"christmas|xmas|\bno[eë]l\b|navidad|weihnacht|\bnatale\b|\bnatal\b"),
    ("mothers_day", r"mother.?s\s+day|f[eê]te\s+des\s+m[eè]res|d[ií]a\s+de\s+la\s+madre|muttertag|"
                    r"festa\s+della\s+mamma|dia\s+da\s+m[aã]e"),
    ("valentines_day", r"valentin"),
    ("new_collection", r"new\s+(?:collection|arrivals?)|nouvelle\s+collection|nueva\s+colecci[oó]n|"
                       r"neue\s+kollektion|nuova\s+collezione|nova\s+cole[cç][aã]o"),
    ("back_in_stock", r"back\s+in\s+stock|retour\s+en\s+stock|de\s+nuevo\s+disponible|"
                      r"wieder\s+(?:da|verfügbar|auf\s+lager)|di\s+nuovo\s+disponibil|de\s+volta\s+ao\s+estoque"),
    ("sale", r"\bsales?\b|\bsoldes\b|\brebajas\b|\bsaldi\b|\bsaldos\b|schlussverkauf|\bpromo(?:tion)?s?\b"),
)
OCCASIONS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _OCCASION_PATTERNS)
# Where a brief names what the offer is on ("20% off coats", "-20 % sur les manteaux"), per
# language: the preposition, then determiners to skip.
_ON = {
    "en": (r"\b(?:off|on)\s+", r"(?:all|our|the|every|any)"),
    "fr": (r"\bsur\s+", r"(?:tou(?:te)?s|tout|toute|les|la|le|l'|nos|notre)"),
    "es": (r"\ben\s+", r"(?:todos|todas|los|las|el|la|nuestros|nuestras|nuestro|nuestra)"),
    "de": (r"\bauf\s+", r"(?:alle|allen|unsere|die|den|das)"),
    "it": (r"\b(?:su|sui|sulle|sugli|sul|sulla)\s+", r"(?:tutti|tutte|i|le|gli|il|la|l'|nostri|nostre)"),
    "pt": (r"\b(?:em|nos|nas|no|na)\s+", r"(?:todos|todas|os|as|o|a|nossos|nossas)"),
}
_STOP_WORDS = frozenset(" ".join((
    "until till this these for and with in at from only today tonight tomorrow weekend",  # en
    "jusqu jusque jusqu'au jusqu'à ce cette pour et avec en au aux dès du soir demain week-end",  # fr
    "hasta este esta estos para y con del mañana hoy fin",  # es
    "bis dieses diese für und mit im am ab nur heute morgen",  # de
    "fino questo questa per e da oggi domani al",  # it
    "até neste nesta com do da hoje amanhã",  # pt
)).split())
# a quote mark opens after a non-letter and closes before one: the apostrophes of "d'hiver",
# "jusqu'à" or "don't" quote nothing (a brief with two of them read a quoted name between them)
_QUOTED = re.compile(r"(?<!\w)[\"“«‘']\s*([^\"”»’']{2,40}?)\s*[\"”»’'](?!\w)")


@dataclass(frozen=True)
class Offer:
    """``kind``: percent (``n``), amount (``amount`` in ``currency``), free_shipping, bundle (``a`` for ``b``)."""

    kind: str
    n: int = 0
    amount: int = 0
    currency: str = "€"
    a: int = 0
    b: int = 0


@dataclass(frozen=True)
class Deadline:
    """``kind``: date (``day``), today, tomorrow or weekend."""

    kind: str
    day: date | None = None


@dataclass(frozen=True)
class Product:
    """``language`` is None for a name (used as written in every language)."""

    text: str
    language: str | None


@dataclass(frozen=True)
class Brief:
    language: str
    offer: Offer | None
    deadline: Deadline | None
    link: str
    occasion: str | None
    product: Product | None
    product_names: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def product_in(self, language: str) -> str | None:
        """The product as a ``language`` variant may name it, or None (the grammar's generic one)."""
        if self.product_names.get(language):
            return self.product_names[language]
        if self.product is not None and self.product.language in (None, language):
            return self.product.text
        return None


def parse_offer(text: str) -> Offer | None:
    """The first offer ``text`` states, in any of the six languages, or None."""
    if found := _PERCENT.search(text):
        return Offer("percent", n=int(found.group(1)))
    if found := _AMOUNT.search(text):
        symbol = (found.group(1) or found.group(4)).lower()
        return Offer("amount", amount=int(found.group(2) or found.group(3)), currency=_CURRENCY.get(symbol, symbol))
    if (found := _BUNDLE.search(text)) and int(found.group(1)) > int(found.group(2)) > 0:
        return Offer("bundle", a=int(found.group(1)), b=int(found.group(2)))
    if _ONE_PLUS_ONE.search(text):
        return Offer("bundle", a=2, b=1)
    if _FREE_SHIPPING.search(text):
        return Offer("free_shipping")
    return None


@functools.cache
def _calendar_words() -> tuple[dict[str, int], dict[str, int]]:
    """Month names (1-12) and weekday names (0 = Monday) in the six languages, lower case."""
    months: dict[str, int] = {}
    days: dict[str, int] = {}
    for code in SUPPORTED_LANGUAGES:
        locale = Locale.parse(code)
        for width in ("wide", "abbreviated"):
            for number, name in locale.months["format"][width].items():
                if len(name.strip(".")) >= 3:
                    months.setdefault(name.strip(".").lower(), number)
        for number, name in locale.days["format"]["wide"].items():
            days.setdefault(name.lower(), number)
            days.setdefault(name.lower().split("-")[0], number)  # "segunda" for "segunda-feira"
    return months, days


@functools.cache
def _month_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    months, _ = _calendar_words()
    names = "|".join(sorted(map(re.escape, months), key=len, reverse=True))
    day_first = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º)?\.?\s+(?:de\s+)?({names})\.?(?:\s+(20\d\d))?\b",
                           re.IGNORECASE)
    month_first = re.compile(rf"\b({names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(20\d\d))?", re.IGNORECASE)
    return day_first, month_first


def _day(year: int | None, month: int, day: int, today: date) -> date | None:
    for candidate_year in ((year,) if year else (today.year, today.year + 1)):
        try:
            found = date(candidate_year, month, day)
        except ValueError:  # 31/02, or 29/02 outside a leap year
            continue
        if year or found >= today:
            return found
    return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) + (2000 if len(text) == 2 else 0)


def parse_deadline(text: str, today: date) -> Deadline | None:
    """The deadline ``text`` names: a date (ISO, 24/12, 24 December, 24. Dezember...), a weekday
    (the next one, today included), or today / tomorrow / this weekend; None when it names none."""
    text = _URL.sub(" ", text)
    months, days = _calendar_words()
    day_first, month_first = _month_patterns()
    candidates: list[date | None] = []
    if found := _ISO_DATE.search(text):
        candidates.append(_day(int(found.group(1)), int(found.group(2)), int(found.group(3)), today))
    if found := day_first.search(text):
        candidates.append(_day(_year(found.group(3)), months[found.group(2).lower()], int(found.group(1)), today))
    if found := month_first.search(text):
        candidates.append(_day(_year(found.group(3)), months[found.group(1).lower()], int(found.group(2)), today))
    if found := _NUMERIC_DATE.search(text):
        candidates.append(_day(_year(found.group(3)), int(found.group(2)), int(found.group(1)), today))
    for candidate in candidates:
        if candidate is not None:
            return Deadline("date", candidate)
    for word in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)?", text.lower()):
        if word in days:
            return Deadline("date", today + timedelta(days=(days[word] - today.weekday()) % 7))
    for kind, pattern in (("today", _TODAY), ("tomorrow", _TOMORROW), ("weekend", _WEEKEND)):
        if pattern.search(text):
            return Deadline(kind)
    return None


def find_occasion(text: str) -> str | None:
    """The occasion ``text`` names (``grammar`` has its name in each language), or None."""
    return next((name for name, pattern in OCCASIONS if pattern.search(text)), None)


def _is_name(text: str, language: str) -> bool:
    words = text.split()
    if any(ch.isdigit() for ch in text) or any(w[1:] != w[1:].lower() for w in words):
        return True  # "X200", "iPhone", "AURORA": nobody's common noun
    # German capitalises every noun, so a capital says nothing there
    return language != "de" and all(w[0].isupper() for w in words)


def _product_from_text(text: str, language: str) -> Product | None:
    if quoted := _QUOTED.search(text):
        return Product(quoted.group(1).strip(), None)
    if language not in _ON:
        return None
    preposition, determiners = _ON[language]
    months, days = _calendar_words()
    for found in re.finditer(preposition + rf"(?:{determiners}\s+)*", text, re.IGNORECASE):
        words: list[str] = []
        # the next few words only: a whole brief after each "en" / "on" would make the scan quadratic
        for word in re.findall(r"[^\W\d_][\w'’-]*|\S", text[found.end():found.end() + 120])[:4]:
            lowered = word.lower().replace("’", "'")  # a typographic apostrophe: "jusqu’à" is "jusqu'à"
            if not word[0].isalpha() or lowered in _STOP_WORDS or lowered in months or lowered in days:
                break
            words.append(word)
        if words:
            return Product(" ".join(words), language)
    return None


def _product(product: str, text: str, language: str) -> Product | None:
    product = product.strip()
    if not product:
        return _product_from_text(text, language)
    unquoted = _QUOTED.fullmatch(product)
    if unquoted:
        return Product(unquoted.group(1).strip(), None)
    if _is_name(product, language):
        return Product(product, None)
    own = detect_language(product).language if len(product.split()) >= 2 else language
    return Product(product, own)


def parse_brief(text: str, *, today: date, offer: str = "", product: str = "",
                product_names: dict[str, str] | None = None, deadline: str = "", link: str = "") -> Brief:
    """The brief's slots: the fields when given (they win), else what the free text states."""
    language = detect_language(text).language
    notes: list[str] = []
    found_offer = parse_offer(offer) if offer.strip() else None
    if offer.strip() and found_offer is None:
        notes.append(f"The offer “{offer.strip()}” is not one the offline generator can state in every language "
                     "(a percentage, an amount, free delivery or “3 for 2”): the variants leave it out.")
    found_deadline = parse_deadline(deadline, today) if deadline.strip() else None
    if deadline.strip() and found_deadline is None:
        notes.append(f"The deadline “{deadline.strip()}” is not a date, a weekday, today, tomorrow or this "
                     "weekend: the variants leave it out.")
    url = link.strip()
    if url and not _URL.fullmatch(url):
        notes.append(f"The link “{url}” is not an http(s) address: the variants leave it out.")
        url = ""
    if not url and (in_text := _URL.search(text)):
        url = in_text.group(0)
    names = {lang: name.strip() for lang, name in (product_names or {}).items()
             if lang in SUPPORTED_LANGUAGES and name.strip()}
    return Brief(
        language=language,
        offer=found_offer or (None if offer.strip() else parse_offer(_URL.sub(" ", text))),
        deadline=found_deadline or (None if deadline.strip() else parse_deadline(text, today)),
        link=url,
        occasion=find_occasion(" ".join((text, offer, product))),
        product=_product(product, _URL.sub(" ", text), language),
        product_names=names,
        notes=tuple(notes),
    )
