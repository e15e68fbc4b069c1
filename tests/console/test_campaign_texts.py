"""The campaign page says which template it sends, and to whom: each translation for the recipients in its language,
each A/B arm's template (found walking the marketer's journey: neither the page nor its report named the text)."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from campaigns import flows, tasks
from contacts.models import Contact
from core import db
from tests.campaigns.factories import create_campaign, create_contact, create_template
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


def test_each_recipients_outcome_names_the_template_they_got(app_client: TestClient) -> None:
    """The page and the report name each group's template, but the per-recipient export did not say which
    translation a contact got: "which text did Emma get?" had no answer once she changed her language."""
    with db.session_scope() as session:
        english = create_template(session, body="Spring sale: 20 % off", name="Spring sale", language="en")
        french = create_template(session, body="Soldes : -20 %", name="Soldes de printemps", language="fr")
        lea = create_contact(session, 1).id
        emma = create_contact(session, 2, language="en", country="GB").id
        translated = create_campaign(session, english, name="Spring", translations={"fr": french.id})
        flows.start_run(session, translated, now=db.utcnow())
        tested = create_campaign(session, english, name="Tested", ab={"test_fraction": 1.0, "arms": [
            {"name": "A", "template_id": english.id, "weight": 50},
            {"name": "B", "template_id": french.id, "weight": 50}]})  # everyone in the test: both go now
        flows.start_run(session, tested, now=db.utcnow())
        ids = {"translated": translated.id, "tested": tested.id, "en": english.id, "fr": french.id}
    assert tasks.prepare_campaign(ids["translated"]) == 2 and tasks.prepare_campaign(ids["tested"]) == 2
    _, secret = create_console_user("ana@example.com", role="analyst")
    log_in(app_client, "ana@example.com", secret)

    def got(campaign_id: int) -> dict[int, tuple[str, str]]:
        export = app_client.get(f"/console/campaigns/{campaign_id}/recipients.csv")
        assert export.status_code == 200
        return {int(r["contact_id"]): (r["arm"], r["template_id"]) for r in csv.DictReader(io.StringIO(export.text))}

    assert got(ids["translated"]) == {lea: ("", str(ids["fr"])), emma: ("", str(ids["en"]))}
    with db.session_scope() as session:  # Emma now reads French: the export still says what she got
        session.get_one(Contact, emma).language = "fr"
    assert got(ids["translated"])[emma] == ("", str(ids["en"]))
    arms = got(ids["tested"])
    assert all(template == str(ids["en"] if arm == "A" else ids["fr"]) for arm, template in arms.values()), arms
