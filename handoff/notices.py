"""What the customer is told when a person takes over, in their language."""

from __future__ import annotations

ESCALATION_NOTICE = {
    "en": "Thanks for your patience. A member of our team will answer you within about {minutes} min.",
    "fr": "Merci de votre patience. Une personne de notre équipe vous répond d'ici {minutes} min environ.",
    "es": "Gracias por su paciencia. Una persona de nuestro equipo le responderá en unos {minutes} min.",
    "de": "Danke für Ihre Geduld. Eine Person aus unserem Team antwortet Ihnen in etwa {minutes} Min.",
    "it": "Grazie per la pazienza. Una persona del nostro team le risponderà entro circa {minutes} min.",
    "pt": "Obrigado pela paciência. Uma pessoa da nossa equipa responde-lhe dentro de cerca de {minutes} min.",
}


def escalation_notice(language: str | None, minutes: int) -> str:
    """The hand-over message; English when the language is unknown or unsupported."""
    template = ESCALATION_NOTICE.get((language or "en")[:2], ESCALATION_NOTICE["en"])
    return template.format(minutes=minutes)
