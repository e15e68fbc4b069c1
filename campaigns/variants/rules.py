"""The rule half of the brand check: deterministic tests on the text as it would be sent.

Each rule answers a :class:`RuleResult`; ``error`` fails the variant, ``warning`` lowers its score.
Carrier filters look for the same things as the spam rules here: shouting in capitals, runs of
punctuation, classic spam phrases, third-party URL shorteners (their domains are shared by
spammers and blocked wholesale), and SHAFT content (sex, hate, alcohol, firearms, tobacco), which
US carriers reject outright on A2P traffic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from campaigns.models import BrandProfile
from campaigns.templates import with_footer
from channels.encoding import analyze, gsm7_lookalikes, gsm7_segments, lookalike, ucs2_characters

Severity = Literal["error", "warning", "info"]

URL_SHORTENERS = (
    "bit.ly", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly",
    "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "bl.ink", "s.id", "v.gd",
)
SPAM_PHRASES = (
    "act now", "100% free", "risk free", "risk-free", "winner", "you have won", "you've won", "cash prize",
    "click here", "urgent", "limited time only", "no credit check", "guaranteed", "free money",
    "gagnant", "vous avez gagné", "cliquez ici", "argent gratuit", "ganador", "haz clic aquí", "gewinner",
    "hier klicken", "vincitore", "clicca qui", "vencedor", "clique aqui",
)
# Stems matched at word starts, in the six supported languages.
SHAFT_TERMS: dict[str, tuple[str, ...]] = {
    "sex": ("sex", "porn", "xxx", "nude", "escort", "erotic", "érotique", "sexe", "desnud", "nackt", "nudo"),
    "hate": ("nazi", "kill all", "racial slur", "white power", "supremac"),
    "alcohol": ("beer", "wine", "vodka", "whisk", "liquor", "alcohol", "alcool", "bière", "vin ", "cerveza",
                "vino", "bier", "wein", "cerveja", "birra", "cocktail", "happy hour"),
    "firearms": ("gun", "firearm", "rifle", "pistol", "ammo", "ammunition", "arme à feu", "fusil", "munition",
                 "pistola", "arma de fuego", "waffe", "gewehr", "arma da fuoco"),
    "tobacco": ("tobacco", "cigar", "vape", "vaping", "e-cig", "nicotine", "tabac", "tabaco", "tabak",
                "tabacco", "cannabis", "cbd", "marijuana", "weed"),
}
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U0001f900-\U0001f9ff]")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CAPS_ALLOWED = {"STOP", "OK", "SMS", "FAQ", "USA", "EU", "TV", "VIP", "UK", "DIY", "PDF", "URL"}
# A bare host has DNS's shape: labels of at most 63 characters, here at most 10 of them. Unbounded,
# a long "a.a.a..." without a "/" was rescanned from every label (quadratic).
_URL = re.compile(r"https?://([^/\s]+)|\b((?:[a-z0-9-]{1,63}\.){1,10}[a-z]{2,63})/\S*", re.IGNORECASE)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    severity: Severity
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Original:
    """The text a variant was made from, whose segments the check shows beside the variant's: a
    translation's source ("the original"), an LLM's text before its look-alikes ("as the model wrote
    it"). ``label`` names it for a person."""

    text: str
    label: str = "the original"


def _segments(n: int) -> str:
    return f"{n} SMS segment{'s' if n > 1 else ''}"


def _contains(text: str, term: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(term.lower()), text.lower()) is not None


def _quoted(items: Sequence[str]) -> str:
    return ", ".join(f"“{i}”" for i in items)


def terms_rules(text: str, brand: BrandProfile) -> list[RuleResult]:
    banned = [t for t in brand.banned_terms if t and _contains(text, t)]
    missing = [t for t in brand.required_terms if t and not _contains(text, t)]
    return [
        RuleResult("banned_terms", not banned, "error",
                   f"Uses a term the brand bans: {_quoted(banned)}." if banned else "No banned term."),
        RuleResult("required_terms", not missing, "error",
                   f"Leaves out a term the brand requires: {_quoted(missing)}." if missing
                   else "Every required term is there."),
    ]


@dataclass(frozen=True)
class Cost:
    """What a text costs as sent (opt-out line counted): ``segments`` in ``encoding``, ``gsm7_segments``
    were it GSM-7 (its characters outside it as look-alikes), and its original's figures, if any."""

    segments: int
    encoding: str
    characters: int
    gsm7_segments: int
    outside_gsm7: tuple[str, ...]
    original: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost(text: str, language: str, brand: BrandProfile, *, marketing: bool, original: Original | None = None) -> Cost:
    """The segments of ``text`` as sent, in GSM-7, and ``original``'s (``{"label", "segments", "encoding"}``)."""
    sent = with_footer(text, language, brand.stop_number) if marketing else text
    info = analyze(sent)
    was = None
    if original is not None:
        before = analyze(with_footer(original.text, language, brand.stop_number) if marketing else original.text)
        was = {"label": original.label, "segments": before.segments, "encoding": before.encoding}
    return Cost(segments=info.segments, encoding=info.encoding, characters=info.characters,
                gsm7_segments=gsm7_segments(sent, language), outside_gsm7=tuple(ucs2_characters(sent)), original=was)


def _encoding_rule(text: str, language: str, spent: Cost, original: Original | None) -> RuleResult | None:
    odd = spent.outside_gsm7[:5]
    if spent.encoding == "UCS-2" and spent.gsm7_segments < spent.segments:
        return RuleResult("encoding", False, "warning",
                          f"{spent.segments} segments instead of {spent.gsm7_segments}: {_quoted(odd)} "
                          f"{'is' if len(odd) == 1 else 'are'} outside GSM-7 (a segment then holds 70 characters "
                          "instead of 160).")
    if spent.encoding == "UCS-2":
        return RuleResult("encoding", False, "warning",
                          f"Characters outside the GSM-7 alphabet ({_quoted(odd)}): each segment then holds 70 "
                          f"characters instead of 160 (still {_segments(spent.segments)} here).")
    if original is not None and original.text != text and gsm7_lookalikes(original.text, language) == text:
        kept = [f"“{ch}” as “{lookalike(ch, language)}”" for ch in ucs2_characters(original.text)][:5]
        return RuleResult("encoding", True, "info", f"Kept in GSM-7: {', '.join(kept)}.")
    return None


def length_rules(text: str, language: str, brand: BrandProfile, *, marketing: bool,
                 original: Original | None = None) -> list[RuleResult]:
    """Segments as sent (the opt-out footer counted) beside ``original``'s, the encoding, and the opt-out wording.

    A text in UCS-2 is a warning that says what it costs: "2 segments instead of 1: “À” is outside
    GSM-7" (the same text in GSM-7, ``channels.encoding.gsm7_segments``), so a marketer comparing
    variants sees the price of a character. French marketing texts must say which short number takes
    STOP (docs/campaigns.md): without one in the brand profile the footer falls back to a generic
    line, which is flagged.
    """
    sent = with_footer(text, language, brand.stop_number) if marketing else text
    spent = cost(text, language, brand, marketing=marketing, original=original)
    beside = ""
    if spent.original is not None:
        beside = f"; {spent.original['label']}: {_segments(spent.original['segments'])} ({spent.original['encoding']})"
    says_stop = sent == text
    if not marketing:
        opt_out = RuleResult("opt_out", True, "info", "Transactional: no opt-out line is added.")
    elif language == "fr" and not brand.stop_number and not says_stop:
        opt_out = RuleResult("opt_out", False, "warning",
                             "French marketing texts must name the number to text STOP to: set the STOP "
                             "number in the brand profile.")
    elif says_stop:
        opt_out = RuleResult("opt_out", True, "info", "Says how to opt out (STOP).")
    else:
        opt_out = RuleResult("opt_out", True, "info",
                             f"The opt-out line is added when sent ({len(sent) - len(text)} characters, counted).")
    results = [
        opt_out,
        RuleResult("segments", spent.segments <= brand.max_segments, "error",
                   f"Too long: {spent.segments} SMS segments as sent ({spent.characters} characters with the "
                   f"opt-out line, {spent.encoding}){beside}; the brand allows {brand.max_segments}."
                   if spent.segments > brand.max_segments else
                   f"{_segments(spent.segments)} as sent ({spent.characters} characters, {spent.encoding}){beside}."),
    ]
    if (encoding := _encoding_rule(text, language, spent, original)) is not None:
        results.append(encoding)
    return results


def emoji_rule(text: str, brand: BrandProfile) -> RuleResult:
    count = len(_EMOJI.findall(text))
    uses = "no emoji" if count == 0 else "1 emoji" if count == 1 else f"{count} emoji"
    if brand.emoji_policy == "none":
        return RuleResult("emoji", count == 0, "error", f"Uses {uses}; the brand uses none.")
    if brand.emoji_policy == "some":
        return RuleResult("emoji", count <= 2, "warning", f"Uses {uses}; the brand uses at most 2.")
    return RuleResult("emoji", True, "info", f"Uses {uses}.")


def spam_rules(text: str) -> list[RuleResult]:
    words = [w for w in _WORD.findall(text) if len(w) >= 3]
    shouting = [w for w in words if w.isupper() and w not in _CAPS_ALLOWED]
    caps_bad = len(shouting) >= 3 or (bool(words) and len(shouting) / len(words) > 0.3)
    punctuation = re.findall(r"[!?]{2,}|\.{4,}|[$€£]{2,}", text)
    bangs = text.count("!")
    phrases = [p for p in SPAM_PHRASES if _contains(text, p)]
    hosts = {(m.group(1) or m.group(2) or "").lower() for m in _URL.finditer(text)}
    shorteners = sorted(h for h in hosts if h.removeprefix("www.") in URL_SHORTENERS)
    return [
        RuleResult("all_caps", not caps_bad, "warning",
                   f"Shouts in capitals ({', '.join(shouting[:5])}): carriers' filters flag it." if caps_bad
                   else "No shouting."),
        RuleResult("punctuation", not punctuation and bangs <= 2, "warning",
                   (f"Too much punctuation ({' '.join(punctuation[:3])}): carriers' filters flag it." if punctuation
                    else f"{bangs} exclamation marks: more than 2 reads as spam.")
                   if punctuation or bangs > 2 else "Punctuation is fine."),
        RuleResult("spam_phrases", not phrases, "warning",
                   f"Uses phrases carriers' spam filters look for: {_quoted(phrases)}." if phrases
                   else "No spam phrase."),
        RuleResult("url_shortener", not shorteners, "error",
                   f"Uses the public link shortener {', '.join(shorteners)}: carriers block them; Relais "
                   "shortens and tracks links itself." if shorteners else "No public link shortener."),
    ]


def shaft_rule(text: str) -> RuleResult:
    found = sorted({category for category, terms in SHAFT_TERMS.items() if any(_contains(text, t) for t in terms)})
    return RuleResult("shaft", not found, "error",
                      f"Mentions {', '.join(found)} (SHAFT content): carriers block it." if found
                      else "No SHAFT content.")


def all_rules(text: str, language: str, brand: BrandProfile, *, marketing: bool,
              original: Original | None = None) -> list[RuleResult]:
    return [*terms_rules(text, brand), *length_rules(text, language, brand, marketing=marketing, original=original),
            emoji_rule(text, brand), *spam_rules(text), shaft_rule(text)]


def errors_and_warnings(results: Sequence[RuleResult]) -> tuple[int, int]:
    failed = [r for r in results if not r.passed]
    return sum(r.severity == "error" for r in failed), sum(r.severity == "warning" for r in failed)
