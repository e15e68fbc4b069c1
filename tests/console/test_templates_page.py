"""The templates pages on a TestClient: the list with search and sizes, the editor's live check (the
preview as sent for a real contact, the counter, UCS-2 characters, problems in place, brand rules,
variables, media rows and URLs), save / edit / delete audited like the API with the CSRF header,
and the friendly 403 for agents and analysts."""

from __future__ import annotations

import html
import io
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaigns import brand
from campaigns.models import Template
from campaigns.schemas import BrandIn
from contacts.models import AttributeDefinition
from core import db
from core.models import AuditEntry
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in
from tests.core.trickling_server import trickling

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _zoe() -> int:
    with db.session_scope() as session:
        session.add(AttributeDefinition(name="points", type="number", description="loyalty points"))
        brand.update_profile(session, BrandIn.model_validate(
            {"name": "Maison Lumière", "stop_number": "36111", "banned_terms": ["gratuit"], "max_segments": 1}))
        return create_contact(session, 1, first_name="Zoé", attributes={"points": 120}).id


def _form(**fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {"name": "Soldes", "kind": "marketing", "language": "fr", "event_fields": "",
                            "attributes": "", "contact_id": "", "body": "Bonjour"}
    form.update(fields)
    return form


def test_the_check_renders_for_a_real_contact_with_counter_and_brand(app_client: TestClient) -> None:
    zoe = _zoe()
    headers = _marketer(app_client)
    body = ('Bonjour {{ first_name | default("") }}, {{ attributes.points | default(0) }} points '
            "chez {{ business_name }}")
    out = app_client.post("/console/templates/check", data=_form(body=body, contact_id=str(zoe)), headers=headers)
    assert out.status_code == 200, out.text
    sent = "Bonjour Zoé, 120 points chez Maison Lumière\nSTOP au 36111"
    assert f'id="template-preview-text">{sent}<' in out.text
    assert f'id="count-characters">{len(sent)}<' in out.text and 'id="count-encoding">GSM-7<' in out.text
    assert "STOP au 36111" in out.text and 'id="footer-note"' in out.text
    assert 'id="brand-ok"' in out.text
    assert 'data-insert="{{ attributes.points | default(&#34;&#34;) }}"' in out.text  # the declared attribute
    assert 'id="counter-status" hx-swap-oob="innerHTML">' in out.text

    curly = app_client.post("/console/templates/check", data=_form(body="C’est gratuit 😀 " + "ah " * 20),
                            headers=headers)
    assert 'id="count-encoding">UCS-2<' in curly.text and 'id="count-segments">2<' in curly.text
    assert "<code>’</code> (U+2019)" in curly.text and "<code>😀</code> (U+1F600)" in curly.text
    rules = re.search(r'<ul id="brand-problems".*?</ul>', curly.text, re.S)
    assert rules is not None and "gratuit" in rules[0] and "the brand allows 1" in rules[0]
    assert rules[0].count('data-severity="error"') == 2  # banned term, too long: must be fixed


def test_problems_show_in_place_and_block_the_preview(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    blank = app_client.get("/console/templates/new", headers=HTML)  # not written yet: no problem, an invitation
    assert 'id="preview-empty"' in blank.text and 'id="body-problem-list"' not in blank.text
    unknown = app_client.post("/console/templates/check", data=_form(body="Salut\n{{ firstname }}"), headers=headers)
    assert 'id="body-problems" hx-swap-oob="innerHTML"' in unknown.text and 'id="preview-blocked"' in unknown.text
    assert "line 2: unknown variable &#39;firstname&#39;" in unknown.text
    syntax = app_client.post("/console/templates/check", data=_form(body="{{ first_name "), headers=headers)
    assert 'id="body-problem-list"' in syntax.text and "line 1:" in syntax.text
    missing = app_client.post("/console/templates/check", data=_form(body="Hi {{ first_name }}"), headers=headers)
    assert "can be missing: give it a default" in missing.text
    long = app_client.post("/console/templates/check", data=_form(body="x" * 5001), headers=headers)
    assert "at most 5000 characters" in long.text
    private = app_client.post("/console/templates/check", data=_form(
        media_url="http://127.0.0.1/a.jpg", media_type="image/jpeg", media_caption=""), headers=headers)
    assert "<strong>media[0].url</strong>" in private.text and "public internet" in private.text
    assert 'id="template-preview-text"' in private.text  # the text itself is fine


def test_a_new_template_starts_in_the_brands_first_language(app_client: TestClient) -> None:
    """A French shop's new template started in English, so its French text got "Reply STOP to opt out"
    unless the marketer thought of changing the language first."""
    _marketer(app_client)
    english = app_client.get("/console/templates/new", headers=HTML)
    assert '<option value="en" selected>' in english.text  # no brand languages yet: English
    with db.session_scope() as session:
        brand.update_profile(session, BrandIn.model_validate({"languages": ["fr", "en"], "stop_number": "36111"}))
    page = app_client.get("/console/templates/new", headers=HTML)
    assert page.status_code == 200, page.text
    assert '<option value="fr" selected>' in page.text and '<option value="en" selected>' not in page.text


def test_the_editors_example_reads_right_with_and_without_a_name(app_client: TestClient) -> None:
    """The hint under the message box suggested ``{{ first_name | default("") }}``, which a marketer copies into
    "Bonjour {{ ... }}, ...": a contact with no name then read "Bonjour , ..." (a space before the comma). The
    example it gives now is checked as the editor checks it, for a contact with a name and one without."""
    headers = _marketer(app_client)
    page = app_client.get("/console/templates/new", headers=HTML)
    found = re.search(r'<code id="body-help-example">(.*?)</code>', page.text)
    assert found is not None, page.text
    example = html.unescape(found[1])
    with db.session_scope() as session:
        named = create_contact(session, 1, first_name="Zoé").id
        nameless = create_contact(session, 2).id
    for contact, text in ((named, "Hi Zoé,"), (nameless, "Hi,")):
        out = app_client.post("/console/templates/check", data=_form(body=example, contact_id=str(contact)),
                              headers=headers)
        assert f'id="template-preview-text">{text}\n' in out.text, out.text
        assert f"“{text}”" in page.text  # the hint says what it reads


def test_transactional_drafts_preview_their_event_fields(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    form = _form(kind="transactional", event_fields="order.number, order.total?",
                 body='Commande {{ event.order.number }} {{ event.order.total | default("") }}')
    out = app_client.post("/console/templates/check", data=form, headers=headers)
    assert 'id="template-preview-text">Commande ‹order.number› ‹order.total›<' in out.text
    assert 'id="footer-note"' not in out.text and "Insert event.order.number" in out.text


def test_attributes_declared_on_the_template_render_for_the_contact(app_client: TestClient) -> None:
    with db.session_scope() as session:
        gold = create_contact(session, 2, first_name="Ana", attributes={"tier": "gold"}).id
    headers = _marketer(app_client)
    form = _form(attributes="tier", contact_id=str(gold), kind="transactional",
                 body='Statut {{ attributes.tier | default("standard") }}')
    out = app_client.post("/console/templates/check", data=form, headers=headers)
    assert 'id="template-preview-text">Statut gold<' in out.text and "Insert attributes.tier" in out.text


def test_media_rows_are_added_and_removed(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    added = app_client.post("/console/templates/media", data={**_form(), "action": "add-media"}, headers=headers)
    assert added.status_code == 200 and added.headers["HX-Trigger"] == "template-changed"
    assert 'id="media-url-0"' in added.text
    two = {**_form(), "media_url": ["https://cdn.example/a.jpg", "https://cdn.example/b.png"],
           "media_type": ["image/jpeg", "image/png"], "media_caption": ["", ""], "action": "remove-media:0"}
    removed = app_client.post("/console/templates/media", data=two, headers=headers)
    assert 'value="https://cdn.example/b.png"' in removed.text and "a.jpg" not in removed.text


class _Files(BaseHTTPRequestHandler):
    """A file host on loopback: a small PNG, a large JPEG (shrunk when sent), a page that is not an image."""

    files: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:
        found = self.files.get(self.path)
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", found[0] if found else "text/plain")
        self.end_headers()
        self.wfile.write(found[1] if found else b"no such file")

    def log_message(self, *_: object) -> None:
        pass


def _image(kind: str, size: tuple[int, int], noise: bool = False) -> bytes:
    out = io.BytesIO()
    image = Image.effect_noise(size, 90).convert("RGB") if noise else Image.new("RGB", size, (200, 120, 40))
    image.save(out, format=kind, quality=100) if kind == "JPEG" else image.save(out, format=kind)
    return out.getvalue()


def test_an_attachment_is_fetched_and_checked_on_request(outbound_to_loopback: None, app_client: TestClient) -> None:
    big = _image("JPEG", (1800, 1800), noise=True)
    assert len(big) > 600 * 1024
    _Files.files = {"/lampe.png": ("image/png", _image("PNG", (320, 200))), "/photo.jpg": ("image/jpeg", big),
                    "/page.jpg": ("text/html", b"<html>not an image</html>")}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    headers = _marketer(app_client)
    try:
        def check(path: str, kind: str) -> str:
            form = {**_form(), "media_url": f"{base}{path}", "media_type": kind, "media_caption": "", "index": "0"}
            out = app_client.post("/console/templates/media/check", data=form, headers=headers)
            assert out.status_code == 200, out.text
            return out.text

        assert 'data-ok="yes"' in (png := check("/lampe.png", "image/png")) and "320×200: sent as it is" in png
        shrunk = check("/photo.jpg", "image/jpeg")
        # sending hands over the address: nothing shrinks the file, so a too large one does not fit (it said "sent
        # shrunk to 590 KB", and went as it was)
        assert 'data-ok="no"' in shrunk and "sent as this address, not shrunk" in shrunk and "as a JPEG it" in shrunk
        wrong = check("/page.jpg", "image/jpeg")
        assert 'data-ok="no"' in wrong and "does not decode as an image" in wrong
        missing = check("/gone.png", "image/png")
        assert 'data-ok="no"' in missing and "HTTP 404" in missing
    finally:
        server.shutdown()
        thread.join(5)


def test_the_media_check_leaves_the_server_answering_while_it_fetches(outbound_to_loopback: None,
                                                                     live_server: str) -> None:
    """The check fetched inside an async route, on the event loop: while a slow address trickled its file (up to the
    30 s deadline), the whole server, API, console and webhooks, answered nothing (/healthz took 28 s against a
    running instance). The fetch now runs on a worker thread."""
    with httpx.Client(base_url=live_server, timeout=60) as client, \
            trickling(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 15\r\n\r\nnot a png, slow",
                      head=60, every=0.5) as url:  # fmt: skip
        headers = _marketer(client)  # type: ignore[arg-type]  # an httpx client, as TestClient is
        form = {**_form(), "media_url": url, "media_type": "image/png", "media_caption": "", "index": "0"}
        answers: list[httpx.Response] = []
        checking = threading.Thread(
            target=lambda: answers.append(client.post("/console/templates/media/check", data=form, headers=headers)))
        start = time.monotonic()
        checking.start()
        time.sleep(1)
        assert client.get("/healthz", timeout=20).status_code == 200
        assert checking.is_alive()  # answered while the check still fetches (about 10 s); it waited for all of it
        checking.join(30)
    assert time.monotonic() - start > 3 and 'data-ok="no"' in answers[0].text


@pytest.mark.parametrize("path", ["/console/templates/check", "/console/templates"])
def test_a_slow_name_in_a_media_address_holds_only_its_own_request(live_server: str, path: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview (sent as the marketer types) and the save resolve each attachment's host name, to refuse one
    inside the network, and they did so on the event loop: a name whose DNS answers slowly (the resolver waits 5 s
    a try by default) held every request of the server meanwhile. They run on a worker thread now. The slow DNS
    answer is played by the resolver call itself: it holds until /healthz has answered, then 'not known'. Were the
    name resolved on the event loop, /healthz could not answer and its 20 s timeout would fail the test."""
    real = socket.getaddrinfo
    resolving, healthy = threading.Event(), threading.Event()

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.example":
            resolving.set()
            healthy.wait(30)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with httpx.Client(base_url=live_server, timeout=60) as client:
        headers = _marketer(client)  # type: ignore[arg-type]  # an httpx client, as TestClient is
        form = _form(media_url="https://slow-dns.example/lampe.png", media_type="image/png", media_caption="")
        answers: list[httpx.Response] = []
        asking = threading.Thread(target=lambda: answers.append(client.post(path, data=form, headers=headers)))
        asking.start()
        try:
            assert resolving.wait(30), "the request never resolved the attachment's host"
            assert client.get("/healthz", timeout=20).status_code == 200  # while the name is still being resolved
        finally:
            healthy.set()
        asking.join(30)
    assert answers[0].status_code in (200, 204), answers[0].text


def test_save_edit_and_delete_are_audited_like_the_api(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    form = _form(body='Bonjour {{ first_name | default("") }} !', media_url="https://cdn.example/lamp.jpg",
                 media_type="image/jpeg", media_caption="La lampe")
    assert app_client.post("/console/templates", data=form, headers=HTMX).status_code == 403  # no CSRF
    bad = app_client.post("/console/templates", data={**form, "body": "{{ nope }}"}, headers=headers)
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
    unnamed = app_client.post("/console/templates", data={**form, "name": ""}, headers=headers)
    assert unnamed.status_code == 422 and "name" in unnamed.json()["detail"]
    saved = app_client.post("/console/templates", data=form, headers=headers)
    assert saved.status_code == 204 and saved.headers["HX-Location"] == "/console/templates?done=saved"
    with db.session_scope() as session:
        template = session.scalars(select(Template)).one()
        assert template.language == "fr" and template.media == [
            {"url": "https://cdn.example/lamp.jpg", "content_type": "image/jpeg", "caption": "La lampe"}]
        template_id = template.id
    listing = app_client.get("/console/templates?done=saved", headers=HTML)
    assert "The template is saved." in listing.text and f'data-template="{template_id}"' in listing.text
    assert 'data-figure="segments">1 · GSM-7<' in listing.text
    assert 'data-template' not in app_client.get("/console/templates?q=introuvable", headers=HTML).text
    assert f'data-template="{template_id}"' in app_client.get("/console/templates?q=BONJOUR", headers=HTML).text
    editor = app_client.get(f"/console/templates/{template_id}", headers=HTML)
    assert editor.status_code == 200 and 'value="https://cdn.example/lamp.jpg"' in editor.text

    edited = app_client.post(f"/console/templates/{template_id}", data={**form, "body": "Bonsoir"}, headers=headers)
    assert edited.status_code == 204
    with db.session_scope() as session:
        create_campaign(session, create_template(session, name="used"), name="Printemps")
        used_id = session.scalars(select(Template.id).where(Template.name == "used")).one()
    refused = app_client.post(f"/console/templates/{used_id}/delete", headers=headers)
    assert refused.status_code == 409 and "Printemps" in refused.json()["detail"]
    deleted = app_client.post(f"/console/templates/{template_id}/delete", headers=headers)
    assert deleted.status_code == 204 and deleted.headers["HX-Location"] == "/console/templates?done=deleted"
    with db.session_scope() as session:
        assert session.get(Template, template_id) is None
        actions = [(e.actor_type, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "template").order_by(AuditEntry.id))]
    assert actions == [("user", "template.create"), ("user", "template.update"), ("user", "template.delete")]


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient, role: str) -> None:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    log_in(app_client, f"{role}@example.com", secret)
    for path in ("/console/templates", "/console/templates/new"):
        page = app_client.get(path, headers=HTML)
        assert page.status_code == 403 and "This page is not part of your role" in page.text, path


# -- the editor in Chromium -----------------------------------------------------------------------


@pytest.mark.browser
def test_marketer_writes_a_template_with_the_live_preview(live_server: str, page: Page) -> None:
    _zoe()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.get_by_role("link", name="Templates", exact=True).click()
    page.get_by_role("link", name="New template").click()
    page.wait_for_url(f"{live_server}/console/templates/new")
    page.get_by_label("Name", exact=True).fill("Soldes d'hiver")
    page.get_by_label("Language", exact=True).select_option("fr")
    expect(page.get_by_label("Preview for")).to_have_value(re.compile(r"\d+"))  # Zoé, a real contact

    page.get_by_label("Message", exact=True).focus()
    page.keyboard.type("Bonjour ")
    page.get_by_role("button", name="Insert first_name").focus()
    page.keyboard.press("Enter")  # the variable goes in at the cursor, the focus back in the message
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.keyboard.type(", -20% chez {{ business_name }}")
    page.get_by_role("button", name="Insert country").focus()  # before the re-check re-draws the list
    sent = "Bonjour Zoé, -20% chez Maison Lumière\nSTOP au 36111"
    expect(page.locator("#template-preview-text")).to_have_text(sent)
    expect(page.get_by_role("button", name="Insert country")).to_be_focused()  # the keyboard user keeps their place
    page.get_by_label("Message", exact=True).press("End")
    expect(page.locator("#count-characters")).to_have_text(str(len(sent)))
    expect(page.locator("#count-encoding")).to_have_text("GSM-7")

    page.keyboard.type(" {{ oops }}")
    expect(page.locator("#body-problem-list")).to_contain_text("unknown variable 'oops'")
    expect(page.locator("#preview-blocked")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_have_attribute("aria-invalid", "true")
    tools.fits(page)

    for _ in " {{ oops }}":
        page.get_by_label("Message", exact=True).press("Backspace")
    page.keyboard.type(" C’est parti")
    expect(page.locator("#count-encoding")).to_have_text("UCS-2")
    expect(page.locator("#ucs2-characters")).to_contain_text("U+2019")
    expect(page.get_by_label("Message", exact=True)).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Add an attachment").click()
    expect(page.get_by_label("Attachment 1: address")).to_be_focused()
    page.keyboard.type("https://cdn.example/lampe.jpg")
    expect(page.locator("#mms-note")).to_contain_text("1 attachment")
    tools.fits(page)

    page.get_by_role("button", name="Save the template").click()
    page.wait_for_url("**/console/templates?done=saved")
    expect(page.locator("#templates tbody tr")).to_have_count(1)
    expect(page.locator("#templates tbody tr")).to_contain_text("Soldes d'hiver")
    tools.fits(page)
    with db.session_scope() as session:
        template = session.scalars(select(Template)).one()
        assert template.body == 'Bonjour {{ first_name | default("") }}, -20% chez {{ business_name }} C’est parti'
        assert template.media == [{"url": "https://cdn.example/lampe.jpg", "content_type": "image/jpeg",
                                   "caption": ""}]


# -- predictions in the preview ---------------------------------------------------------------------


def _scored(zoe: int) -> int:
    """Zoé gets a purchase probability with two recommended products; Ana, a second contact, nothing yet."""
    with db.session_scope() as session:
        model = store.register_version(session, kind="purchase_90d", version="t1")
        products = {"products": [{"id": "L1", "description": "Lampe Opaline"},
                                 {"id": "A2", "description": "Abat-jour"}]}
        store.write_predictions(session, model, [store.Score(zoe, 0.82, products)])
        return create_contact(session, 2, first_name="Ana").id


PREDICTED_BODY = ('Pour vous : {{ recommendations | default([]) | join(", ") }} '
                  '({{ prediction.purchase_90d | default("?") }}) {{ prediction.churn_risk | default("-") }}')


def test_predictions_render_for_the_chosen_contact_and_say_when_there_is_none(app_client: TestClient) -> None:
    zoe = _zoe()
    ana = _scored(zoe)
    headers = _marketer(app_client)
    form = _form(kind="transactional", body=PREDICTED_BODY)
    out = app_client.post("/console/templates/check", data={**form, "contact_id": str(zoe)}, headers=headers)
    # a chance reads as a percentage in the template's language, as the send writes it (test_template_values.py)
    assert 'id="template-preview-text">Pour vous : Lampe Opaline, Abat-jour (82 %) -<' in out.text
    listed = re.search(r'<ul id="preview-predictions".*?</ul>', out.text, re.S)
    assert listed is not None
    items = dict(re.findall(r'<li data-variable="([^"]+)">(.*?)</li>', listed[0], re.S))
    assert list(items) == ["prediction.churn_risk", "prediction.purchase_90d", "recommendations"]
    assert "<strong>82 %</strong> for this contact" in items["prediction.purchase_90d"]  # as the preview prints it
    assert "probability of buying in the next 90 days" in items["prediction.purchase_90d"]
    assert "<strong>Lampe Opaline, Abat-jour</strong>" in items["recommendations"]
    assert "no prediction yet" in items["prediction.churn_risk"]  # said, not left blank
    variables = re.search(r'<ul class="variables" id="predicted-variables".*?</ul>', out.text, re.S)
    assert variables is not None and "Insert prediction.purchase_90d" in variables[0]
    assert "Insert recommendations" in variables[0] and "expected lifetime value" in variables[0]
    assert "Insert first_name" not in variables[0]  # contact fields stay in their own list

    other = app_client.post("/console/templates/check", data={**form, "contact_id": str(ana)}, headers=headers)
    assert 'id="template-preview-text">Pour vous :  (?) -<' in other.text
    assert other.text.count("<strong>no prediction yet</strong>") == 3
    plain = app_client.post("/console/templates/check", data=_form(body="Bonjour", contact_id=str(zoe)),
                            headers=headers)
    assert 'id="preview-predictions"' not in plain.text  # a message without predictions says nothing of them


@pytest.mark.browser
def test_the_editor_previews_a_prediction_for_each_chosen_contact(live_server: str, page: Page) -> None:
    zoe = _zoe()
    ana = _scored(zoe)
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/templates/new")  # the name left empty: the live check runs all the same
    page.get_by_label("Language", exact=True).select_option("fr")
    page.get_by_label("Preview for").select_option(str(zoe))
    page.get_by_label("Message", exact=True).focus()
    page.keyboard.type("Chance d'achat ")
    page.get_by_role("button", name="Insert prediction.purchase_90d").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    expect(page.locator("#template-preview-text")).to_contain_text("Chance d'achat 82 %")
    expect(page.locator('#preview-predictions li[data-variable="prediction.purchase_90d"]')).to_contain_text(
        "82 % for this contact")
    assert tools.serious_violations(page) == []
    tools.fits(page)

    page.get_by_label("Preview for").select_option(str(ana))
    expect(page.locator('#preview-predictions li[data-variable="prediction.purchase_90d"]')).to_contain_text(
        "no prediction yet")
    expect(page.locator("#template-preview-text")).not_to_contain_text("82")
    tools.fits(page)
