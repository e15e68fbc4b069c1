"""The campaign page says which template it sends, and to whom: each translation for the recipients in its language,
each A/B arm's template (found walking the marketer's journey: neither the page nor its report named the text)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from core import db
from tests.campaigns.factories import create_campaign, create_template
from tests.console.helpers import create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _texts(html: str) -> list[tuple[str, str]]:
    """The "Text sent" list as read: (who, which template), tags stripped."""
    section = html.split('id="campaign-texts"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", section, re.S)
    return [(who, " ".join(re.sub(r"<[^>]+>", "", what).split())) for who, what in rows]


def test_the_page_names_the_template_each_recipient_gets(app_client: TestClient) -> None:
    with db.session_scope() as session:
        english = create_template(session, body="Spring sale: 20 % off", name="Spring sale", language="en")
        french = create_template(session, body="Soldes : -20 %", name="Soldes de printemps", language="fr")
        translated = create_campaign(session, english, name="Spring", translations={"fr": french.id}).id
        single = create_campaign(session, english, name="Plain").id
        tested = create_campaign(session, english, name="Tested", ab={"arms": [
            {"name": "A", "template_id": english.id, "weight": 50},
            {"name": "B", "template_id": french.id, "weight": 50}]}).id
        english_id, french_id = english.id, french.id
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)

    page = app_client.get(f"/console/campaigns/{translated}", headers=HTML).text
    assert _texts(page) == [("Recipients in French", "Soldes de printemps (French)"),
                            ("Everyone else", "Spring sale (English)")]
    assert f'<a href="/console/templates/{french_id}">Soldes de printemps</a>' in page
    single_page = app_client.get(f"/console/campaigns/{single}", headers=HTML).text
    assert _texts(single_page) == [("Every recipient", "Spring sale (English)")]
    # translations do not apply to A/B arms (preparation sends each arm's template as written)
    assert _texts(app_client.get(f"/console/campaigns/{tested}", headers=HTML).text) == [
        ("Arm A", "Spring sale (English)"), ("Arm B", "Soldes de printemps (French)")]

    _, secret = create_console_user("ana@example.com", role="analyst")
    log_in(app_client, "ana@example.com", secret)
    page = app_client.get(f"/console/campaigns/{translated}", headers=HTML).text
    assert _texts(page)[1] == ("Everyone else", "Spring sale (English)")
    assert f'href="/console/templates/{english_id}"' not in page  # the templates pages are the marketer's
