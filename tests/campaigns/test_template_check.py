"""The template editor's check (campaigns.template_check) and template deletion (campaigns.service),
on SQLite and PostgreSQL: the text as sent with the footer it added, the characters forcing UCS-2,
brand rules, the variables offered, event samples, media URLs, what keeps a template from deletion."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from campaigns import brand, service, template_check
from campaigns.models import EventTemplate, Template
from campaigns.schemas import BrandIn, TemplateIn
from contacts.models import AttributeDefinition
from core import db
from core.errors import Conflict, ValidationFailed
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.core.trickling_server import trickling


def test_reads_as_names_a_language_only_when_the_message_is_clearly_another(runtime_any_db: Settings) -> None:
    """An English "Spring sale" saved in the brand's French went with the French opt-out line: the editor says what the
    message reads as when the detector is sure, weighing the chosen language as a contact's known one."""
    english = 'Hi {{ first_name | default("") }}, our spring sale starts today: 20 % off all lamps'
    assert template_check.reads_as(english, "fr") == "en" and template_check.reads_as(english, "en") == ""
    assert template_check.reads_as("Nouveau : la lampe Opale est arrivée en boutique", "en") == "fr"
    assert template_check.reads_as("Rebajas de primavera: 20 % en todas las lámparas", "fr") == "es"
    assert template_check.reads_as("Maison Lumière: new lamps arrive today", "fr") == ""  # the brand's name: unsure
    assert template_check.reads_as("Spring sale at Maison Lumière", "fr") == ""  # too few words to tell
    assert template_check.reads_as(english, "nl") == ""  # a language the detector does not know
    with db.session_scope() as session:
        checked = template_check.check(session, TemplateIn(name="s", kind="marketing", language="fr", body=english))
    assert checked.reads_as == "en" and checked.footer  # said beside the French opt-out line it would get


def test_pure_helpers() -> None:
    assert template_check.ucs2_characters("C’est l’été 😀 ’") == ["’", "😀"]
    assert template_check.ucs2_characters("Prix: 10€ [promo]") == []  # GSM-7 extension characters
    assert template_check.sample_event(["order.number", "order.total?", "tracking_url?"]) == {
        "order": {"number": "‹order.number›", "total": "‹order.total›"}, "tracking_url": "‹tracking_url›"}
    assert template_check.appended_footer("Soldes\nSTOP au 36111", "fr", "36111") == "STOP au 36111"
    assert template_check.appended_footer("STOP au 36111 pour ne plus rien recevoir", "fr", "36111") == ""
    with pytest.raises(ValidationFailed) as private:
        template_check.check_media_urls([{"url": "https://cdn.example/a.jpg"}, {"url": "http://10.0.0.8/b.png"}])
    assert private.value.errors[0]["field"] == "media[1].url"


def test_check_renders_as_sent_and_lists_problems(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        session.add(AttributeDefinition(name="points", type="number", description=""))
        brand.update_profile(session, BrandIn.model_validate(
            {"name": "Maison Lumière", "stop_number": "36111", "required_terms": ["Maison Lumière"]}))
        contact = create_contact(session, 1, first_name="Zoé", attributes={"points": 40})
        draft = TemplateIn(name="x", language="fr", body='{{ first_name | default("") }}, {{ attributes.points '
                                                         '| default(0) }} points ’ {{ business_name }}')
        found = template_check.check(session, draft, contact_id=contact.id)
        assert found.problems == [] and found.text == "Zoé, 40 points ’ Maison Lumière\nSTOP au 36111"
        assert found.footer == "STOP au 36111" and found.ucs2_characters == ["’"]
        assert found.info is not None and (found.info.encoding, found.info.segments) == ("UCS-2", 1)
        assert [r.rule for r in found.brand] == ["encoding"]  # a warning; the required term is there

        missing = template_check.check(session, TemplateIn(name="x", body="Hi"), contact_id=None)
        assert missing.footer == "Reply STOP to opt out" and "required_terms" in [r.rule for r in missing.brand]
        broken = template_check.check(session, TemplateIn(name="x", body="{{ nope }}"), contact_id=contact.id)
        assert broken.text is None and broken.problems[0]["variable"] == "nope"
        names = [v.name for v in template_check.available_variables(
            session, TemplateIn(name="x", body="x", kind="transactional", event_fields=["order.id"]))]
        assert names[0] == "business_name" and "attributes.points" in names and names[-1] == "event.order.id"


def test_a_template_in_use_cannot_be_deleted(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        main, arm, translated, event, spare = (create_template(session, name=n)
                                               for n in ("main", "arm", "de", "event", "spare"))
        create_campaign(session, main, name="Soldes", translations={"de": translated.id},
                        ab={"arms": [{"name": "A", "template_id": main.id, "weight": 50},
                                     {"name": "B", "template_id": arm.id, "weight": 50}]})
        session.add(EventTemplate(event_type="order.shipped", language="*", template_id=event.id))
        session.flush()
        for template in (main, arm, translated):
            assert service.template_users(session, template.id) == ["campaign “Soldes”"]
        with pytest.raises(Conflict, match=r"event “order\.shipped”"):
            service.delete_template(session, event)
        service.delete_template(session, spare)
        assert sorted(session.scalars(select(Template.name))) == ["arm", "de", "event", "main"]


@pytest.mark.usefixtures("outbound_to_loopback")
def test_the_media_check_of_an_address_trickling_its_file_ends_at_its_deadline() -> None:
    """A byte every 0.2 s never let the 10 s per-read timeout expire: the marketer's request (and a server thread)
    waited for as long as the host liked. The check now answers at its deadline, saying so."""
    start = time.monotonic()
    with trickling(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" + b"\x89PNG" * 1250,
                   head=20) as url:
        report = template_check.inspect_media(url, "image/png", deadline=2)
    assert time.monotonic() - start < 3.5
    assert report == template_check.MediaReport(False, "the file could not be fetched (ReadTimeout: no complete "
                                                       "answer within 2 s (the deadline for the whole request))")
