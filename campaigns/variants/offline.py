"""Offline variant generation: compose from the brief and the brand's own example messages.

No model writes here. Each variant is ``[hook] [the brief's offer sentence] [call to action]``
with hooks and calls to action taken from a phrase bank in the requested language and,
first, from the brand's examples themselves (their opening and closing sentences carry the
brand's voice). Choices are seeded by the brief, so the same request gives the same variants.
The brief's words are used as written: offline generation cannot translate (the LLM path can).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"hook": ("Good news", "Just for you", "Heads up", "Don't miss it", "Psst"),
           "cta": ("See you soon!", "Take a look.", "Shop now.", "Come and see.", "Treat yourself.")},
    "fr": {"hook": ("Bonne nouvelle", "Rien que pour vous", "À ne pas manquer", "Psst", "C'est le moment"),
           "cta": ("À très vite !", "Découvrez-le.", "Profitez-en.", "On vous attend.", "Faites-vous plaisir.")},
    "es": {"hook": ("Buenas noticias", "Solo para ti", "No te lo pierdas", "Psst", "Es el momento"),
           "cta": ("¡Hasta pronto!", "Descúbrelo.", "Aprovecha.", "Te esperamos.", "Date un capricho.")},
    "de": {"hook": ("Gute Nachrichten", "Nur für dich", "Nicht verpassen", "Psst", "Jetzt ist es so weit"),
           "cta": ("Bis bald!", "Jetzt entdecken.", "Gleich zugreifen.", "Wir freuen uns auf dich.", "Gönn dir was.")},
    "it": {"hook": ("Buone notizie", "Solo per te", "Da non perdere", "Psst", "È il momento"),
           "cta": ("A presto!", "Scoprilo ora.", "Approfittane.", "Ti aspettiamo.", "Concediti un regalo.")},
    "pt": {"hook": ("Boas notícias", "Só para você", "Não perca", "Psst", "Chegou a hora"),
           "cta": ("Até breve!", "Descubra já.", "Aproveite.", "Esperamos por você.", "Dê-se um presente.")},
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _offer_sentence(brief: str, offer: str) -> str:
    first = _sentences(brief)[0] if brief.strip() else ""
    first = first.rstrip(".!?")
    sentence = f"{first[0].upper()}{first[1:]}" if first else ""
    if offer and offer.lower() not in sentence.lower():
        sentence = f"{sentence}: {offer}" if sentence else offer
    return sentence + "."


def compose(*, brief: str, language: str, n: int, examples: Sequence[str], brand_name: str, offer: str = "",
            goal: str = "", audience: str = "") -> list[str]:
    """``n`` distinct variants in ``language`` (English phrases for an unsupported language).

    ``examples`` should be the brand's examples written in ``language`` (their sentences are reused).
    """
    bank = PHRASES.get(language, PHRASES["en"])
    seed = int.from_bytes(hashlib.blake2b(f"{brief}|{language}|{offer}|{goal}|{audience}".encode(),
                                          digest_size=8).digest(), "big")
    rng = random.Random(seed)
    example_hooks = [s[0] for s in (_sentences(e) for e in examples) if len(s) > 1 and len(s[0]) <= 40]
    example_ctas = [s[-1] for s in (_sentences(e) for e in examples) if len(s) > 1 and len(s[-1]) <= 40]
    hooks = list(dict.fromkeys([*example_hooks, *bank["hook"]]))
    ctas = list(dict.fromkeys([*example_ctas, *bank["cta"]]))
    rng.shuffle(hooks)
    rng.shuffle(ctas)
    body = _offer_sentence(brief, offer)
    prefix = f"{brand_name}: " if brand_name else ""
    variants: list[str] = []
    shapes = ("{prefix}{hook}! {body} {cta}", "{prefix}{body} {cta}", "{hook}! {prefix}{body} {cta}",
              "{prefix}{hook}: {body} {cta}")
    attempt = 0
    while len(variants) < n and attempt < n * 10:
        hook = hooks[attempt % len(hooks)].rstrip("!.:")
        cta = ctas[(attempt * 3 + 1) % len(ctas)]
        shape = shapes[attempt % len(shapes)]
        # a hook taken from an example may already name the brand
        named = prefix if brand_name.lower() not in hook.lower() else ""
        text = shape.format(prefix=named, hook=hook, body=body, cta=cta)
        text = " ".join(text.split())
        if text not in variants:
            variants.append(text)
        attempt += 1
    return variants
