"""Which template each group of a campaign's recipients gets, as preparation (``campaigns.prepare``) chooses it.

One answer for the console's "Text sent" panel and the report's exports: the exports named no text at all, so a
marketer reading an A/B test or a translated campaign in a spreadsheet could not tell which figures went with which
words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from campaigns.models import Campaign, Template


@dataclass(frozen=True)
class TextChoice:
    """One group of recipients and its template. ``arm`` names an A/B or adaptive arm; ``language`` is a
    translation's language code (its recipients are the contacts in that language); neither: everyone else, or
    every recipient when ``translated`` is False. ``template`` is None when the template no longer exists."""

    arm: str | None
    language: str | None
    translated: bool
    template_id: int
    template: Template | None

    @property
    def group(self) -> str:
        """The group as a short label for exports: "arm A", "language fr", "everyone else", "every recipient"."""
        if self.arm is not None:
            return f"arm {self.arm}"
        if self.language is not None:
            return f"language {self.language}"
        return "everyone else" if self.translated else "every recipient"


def choices(session: Session, campaign: Campaign) -> list[TextChoice]:
    """Each A/B arm's template, or each translation's (for the recipients in its language) then the campaign's own
    template (for everyone else); translations do not apply to arms, which compare templates as written."""
    arms = (campaign.ab or {}).get("arms") or []
    if arms:
        return [TextChoice(str(arm["name"]), None, False, int(arm["template_id"]),
                           session.get(Template, int(arm["template_id"]))) for arm in arms]
    translations = sorted((campaign.translations or {}).items())
    chosen = [TextChoice(None, code, True, int(template_id), session.get(Template, int(template_id)))
              for code, template_id in translations]
    chosen.append(TextChoice(None, None, bool(translations), campaign.template_id,
                             session.get(Template, campaign.template_id)))
    return chosen


def exported(choice: TextChoice) -> dict[str, Any]:
    """A choice as the JSON report and its exports give it: the template's current name, language and text (None
    for each when it was deleted)."""
    template = choice.template
    return {
        "recipients": choice.group,
        "template_id": choice.template_id,
        "template": template.name if template else None,
        "language": template.language if template else None,
        "body": template.body if template else None,
    }
