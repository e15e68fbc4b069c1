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
from channels.encoding import analyze

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


def _contains(text: str, term: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(term.lower()), text.lower()) is not None


def terms_rules(text: str, brand: BrandProfile) -> list[RuleResult]:
    banned = [t for t in brand.banned_terms if t and _contains(text, t)]
    missing = [t for t in brand.required_terms if t and not _contains(text, t)]
    return [
        RuleResult("banned_terms", not banned, "error",
                   f"uses banned term(s): {', '.join(banned)}" if banned else "no banned term"),
        RuleResult("required_terms", not missing, "error",
                   f"missing required term(s): {', '.join(missing)}" if missing else "all required terms present"),
    ]


def length_rules(text: str, language: str, brand: BrandProfile, *, marketing: bool) -> list[RuleResult]:
    sent = with_footer(text, language, brand.stop_number) if marketing else text
    info = analyze(sent)
    has_stop = sent == text or not marketing
    results = [
        RuleResult("opt_out", True, "info",
                   "states how to opt out" if has_stop else f"the opt-out footer is appended ({len(sent) - len(text)} "
                                                            "characters counted below)"),
        RuleResult("segments", info.segments <= brand.max_segments, "error",
                   f"{info.segments} segment(s) as sent ({info.characters} characters, {info.encoding}); "
                   f"the brand allows {brand.max_segments}"),
    ]
    if info.encoding == "UCS-2":
        results.append(RuleResult("encoding", False, "warning",
                                  "UCS-2: a non-GSM character (emoji, curly quote...) cuts a segment to 70 characters"))
    return results


def emoji_rule(text: str, brand: BrandProfile) -> RuleResult:
    count = len(_EMOJI.findall(text))
    if brand.emoji_policy == "none":
        return RuleResult("emoji", count == 0, "error", f"{count} emoji; the brand uses none")
    if brand.emoji_policy == "some":
        return RuleResult("emoji", count <= 2, "warning", f"{count} emoji; the brand uses at most 2")
    return RuleResult("emoji", True, "info", f"{count} emoji")


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
                   f"words in capitals: {', '.join(shouting[:5])}" if shouting else "no shouting"),
        RuleResult("punctuation", not punctuation and bangs <= 2, "warning",
                   f"excessive punctuation: {' '.join(punctuation[:3]) or f'{bangs} exclamation marks'}"
                   if punctuation or bangs > 2 else "punctuation is fine"),
        RuleResult("spam_phrases", not phrases, "warning",
                   f"carrier-filter phrases: {', '.join(phrases)}" if phrases else "no spam phrase"),
        RuleResult("url_shortener", not shorteners, "error",
                   f"third-party shortener(s) {', '.join(shorteners)}: links are shortened by Relais itself"
                   if shorteners else "no third-party shortener"),
    ]


def shaft_rule(text: str) -> RuleResult:
    found = sorted({category for category, terms in SHAFT_TERMS.items() if any(_contains(text, t) for t in terms)})
    return RuleResult("shaft", not found, "error",
                      f"SHAFT content ({', '.join(found)}): carriers block it" if found else "no SHAFT content")


def all_rules(text: str, language: str, brand: BrandProfile, *, marketing: bool) -> list[RuleResult]:
    return [*terms_rules(text, brand), *length_rules(text, language, brand, marketing=marketing),
            emoji_rule(text, brand), *spam_rules(text), shaft_rule(text)]


def errors_and_warnings(results: Sequence[RuleResult]) -> tuple[int, int]:
    failed = [r for r in results if not r.passed]
    return sum(r.severity == "error" for r in failed), sum(r.severity == "warning" for r in failed)
