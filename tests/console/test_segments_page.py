"""The segments pages on a TestClient: the builder's form ↔ rules translation, the live count and
samples, re-drawing after a structural change, save / edit / delete audited like the API with the
CSRF header, and the friendly 403 for agents and analysts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.console import segment_form
from contacts import consent
from contacts import segments as domain
from contacts.models import Contact, Order, Segment
from core import db
from core.db import utcnow
from core.errors import ValidationFailed
from core.models import AuditEntry
from intelligence import store
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in
from tests.contacts.helpers import create_contact

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}
FRENCH_OPTED_IN = {"all": [{"field": "language", "op": "eq", "value": "fr"},
                           {"field": "consent", "op": "eq", "value": "opted_in"}]}


def _form(rows: list[tuple[int, str, str, str, str]], joins: list[str], join: str = "all") -> dict[str, Any]:
    return {
        "join": join,
        "group_join": joins,
        "row_group": [str(r[0]) for r in rows],
        "field": [r[1] for r in rows],
        "op": [r[2] for r in rows],
        "value": [r[3] for r in rows],
        "extra": [r[4] for r in rows],
    }


def _as_lists(form: dict[str, Any]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in form.items()}


def test_the_builder_translates_groups_to_rules_and_back() -> None:
    form = _form([(0, "language", "eq", "fr", ""), (0, "consent", "eq", "opted_in", ""),
                  (1, "tag", "has", "vip", ""), (1, "engagement", "within_days", "30", "clicked")],
                 ["all", "any"], join="any")
    builder = segment_form.from_form(_as_lists(form))
    rules = segment_form.to_rules(builder, {})
    assert rules == {"any": [FRENCH_OPTED_IN, {"any": [
        {"field": "tag", "op": "has", "value": "vip"},
        {"field": "engagement", "op": "within_days", "kind": "clicked", "value": 30}]}]}
    assert segment_form.from_rules(rules) == builder
    one = segment_form.from_rules(FRENCH_OPTED_IN)
    assert one is not None and segment_form.to_rules(one, {}) == FRENCH_OPTED_IN
    assert segment_form.from_rules({"not": FRENCH_OPTED_IN}) is None  # deeper than the builder draws
    # a field changed under a stale operator: the field's first operator, so count and builder agree
    changed = segment_form.from_form(_as_lists(_form([(0, "tag", "eq", "vip", "")], ["all"])))
    assert changed.groups[0].rows[0].op == "has"
    listed = segment_form.to_rules(segment_form.from_form(_as_lists(_form([(0, "country", "in", "FR, be", "")],
                                                                          ["all"]))), {})
    assert listed == {"all": [{"field": "country", "op": "in", "value": ["FR", "BE"]}]}  # in capitals
    with pytest.raises(ValidationFailed) as bad:
        segment_form.to_rules(segment_form.from_form(_as_lists(_form([(0, "created", "within_days", "a week", "")],
                                                                     ["all"]))), {})
    assert bad.value.errors[0]["field"] == "groups[0].rows[0].value"


def test_structural_changes_add_and_remove_rows_and_groups() -> None:
    builder = segment_form.Builder()
    segment_form.apply(builder, "add-row:0")
    segment_form.apply(builder, "add-group")
    assert [len(g.rows) for g in builder.groups] == [2, 1]
    segment_form.apply(builder, "remove-row:1:0")  # the group's last row: the group goes too
    segment_form.apply(builder, "remove-row:9:9")  # out of range: nothing
    assert [len(g.rows) for g in builder.groups] == [2]


def _people() -> None:
    with db.session_scope() as session:
        for n, language in ((1, "fr"), (2, "fr"), (3, "en")):
            contact = create_contact(session, n, first_name=f"Personne {n}", language=language)
            if n != 2:
                consent.record_opt_in(session, contact=contact, source="form", proof="form")


def _marketer(client: TestClient) -> str:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return log_in(client, "mia@example.com", secret)


def test_live_count_samples_and_problems_in_place(app_client: TestClient) -> None:
    _people()
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    form = _form([(0, "language", "eq", "fr", ""), (0, "consent", "eq", "opted_in", "")], ["all"])
    found = app_client.post("/console/segments/preview", data=form, headers=headers)
    assert found.status_code == 200, found.text
    assert 'id="segment-count">1<' in found.text and "Personne 1" in found.text and "Personne 2" not in found.text
    either = app_client.post("/console/segments/preview", data={**form, "group_join": ["any"]}, headers=headers)
    assert 'id="segment-count">3<' in either.text
    wrong = _form([(0, "created", "within_days", "soon", "")], ["all"])
    problem = app_client.post("/console/segments/preview", data=wrong, headers=headers)
    assert problem.status_code == 200 and 'id="segment-problem"' in problem.text and "whole number" in problem.text
    assert app_client.post("/console/segments/preview", data=form, headers=HTMX).status_code == 403  # no CSRF

    redrawn = app_client.post("/console/segments/builder",
                              data={**_form([(0, "engagement", "eq", "", "")], ["all"]), "action": "add-group"},
                              headers=headers)
    assert redrawn.status_code == 200 and redrawn.headers["HX-Trigger"] == "rules-changed"
    assert 'id="extra-0-0"' in redrawn.text and 'value="within_days" selected' in redrawn.text
    assert 'data-group="1"' in redrawn.text


def test_a_chance_typed_for_the_top_per_cent_is_explained(app_client: TestClient) -> None:
    """ "Chance to buy in 90 days (0-1)", "is in the top … %" (the first operator), "0.3": it kept the top 0.3 %."""
    _people()
    headers = {**HTMX, "X-CSRF-Token": _marketer(app_client)}
    slip = app_client.post("/console/segments/preview", headers=headers,
                           data=_form([(0, "prediction", "top_percent", "0.3", "purchase_90d")], ["all"]))
    assert 'id="segment-problem"' in slip.text
    assert ("Condition 1 of group 1: “is in the top … %” takes a share of the contacts in per cent: type 30 for the "
            "top 30 %, or choose “is at least” for a chance of at least 0.3") in slip.text
    meant = app_client.post("/console/segments/preview", headers=headers,
                            data=_form([(0, "prediction", "top_percent", "30", "purchase_90d")], ["all"]))
    assert meant.status_code == 200 and 'id="segment-problem"' not in meant.text
    at_least = app_client.post("/console/segments/preview", headers=headers,
                               data=_form([(0, "prediction", "gte", "0.3", "purchase_90d")], ["all"]))
    assert 'id="segment-problem"' not in at_least.text


def test_amount_predictions_name_the_orders_currency(app_client: TestClient) -> None:
    """ "Expected spend, 90 days" with "an amount, e.g. 100": a marketer could not tell 100 of what."""
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        session.add(Order(contact_id=contact.id, source="api", external_id="o-1", status="paid",
                          ordered_at=utcnow() - timedelta(days=3), currency="GBP", total_micros=30_000_000))
    headers = {**HTMX, "X-CSRF-Token": _marketer(app_client)}
    rows = _form([(0, "prediction", "gte", "", "expected_spend"), (0, "prediction", "gte", "", "purchase_90d")],
                 ["all"])
    drawn = app_client.post("/console/segments/builder", data={**rows, "action": "redraw"}, headers=headers)
    assert drawn.status_code == 200, drawn.text
    assert ">Expected spend, 90 days (GBP)<" in drawn.text and ">Expected lifetime value (GBP)<" in drawn.text
    assert 'placeholder="an amount in GBP, e.g. 100"' in drawn.text
    assert ">Chance to buy in 90 days (0-1)<" in drawn.text  # a chance has no currency
    assert 'placeholder="0 to 1, e.g. 0.6"' in drawn.text


def test_a_churn_risk_rule_says_where_high_begins(app_client: TestClient) -> None:
    """The contact page reads "Churn risk: high" from 0.7; the builder's box said "0 to 1, e.g. 0.7", so a marketer
    asked for "churn risk high" had to guess the bound."""
    headers = {**HTMX, "X-CSRF-Token": _marketer(app_client)}
    rows = _form([(0, "prediction", "gte", "", "churn_risk")], ["all"])
    drawn = app_client.post("/console/segments/builder", data={**rows, "action": "redraw"}, headers=headers)
    assert drawn.status_code == 200, drawn.text
    assert 'placeholder="0 to 1; high is 0.7 or more"' in drawn.text


def test_save_edit_and_delete_are_audited_like_the_api(app_client: TestClient) -> None:
    _people()
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    form = _form([(0, "language", "eq", "fr", ""), (0, "consent", "eq", "opted_in", "")], ["all"])
    assert app_client.post("/console/segments", data={**form, "name": "FR"}, headers=HTMX).status_code == 403
    assert app_client.post("/console/segments", data={**form, "name": ""}, headers=headers).status_code == 422
    saved = app_client.post("/console/segments", data={**form, "name": "Clients FR"}, headers=headers)
    assert saved.status_code == 204 and saved.headers["HX-Location"] == "/console/segments?done=saved"
    twice = app_client.post("/console/segments", data={**form, "name": "Clients FR"}, headers=headers)
    assert twice.status_code == 409
    with db.session_scope() as session:
        segment = session.scalars(select(Segment)).one()
        assert segment.rules == FRENCH_OPTED_IN and domain.count(session, segment.rules) == 1
        segment_id = segment.id
    listing = app_client.get("/console/segments?done=saved", headers=HTML)
    assert "The segment is saved." in listing.text
    assert f'data-segment="{segment_id}"' in listing.text and 'data-figure="count">1<' in listing.text
    editor = app_client.get(f"/console/segments/{segment_id}", headers=HTML)
    assert editor.status_code == 200 and 'id="segment-count">1<' in editor.text
    assert 'value="opted_in" selected' in editor.text

    english = _form([(0, "language", "eq", "en", "")], ["all"])
    edited = app_client.post(f"/console/segments/{segment_id}", data={**english, "name": "Clients EN"}, headers=headers)
    assert edited.status_code == 204
    deleted = app_client.post(f"/console/segments/{segment_id}/delete", headers=headers)
    assert deleted.status_code == 204 and deleted.headers["HX-Location"] == "/console/segments?done=deleted"
    with db.session_scope() as session:
        assert session.scalars(select(Segment)).all() == []
        actions = [(e.actor_type, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "segment").order_by(AuditEntry.id))]
    assert actions == [("user", "segment.create"), ("user", "segment.update"), ("user", "segment.delete")]


def test_rules_written_through_the_api_show_read_only(app_client: TestClient) -> None:
    with db.session_scope() as session:
        segment_id = domain.create(session, name="Not French", rules={"not": FRENCH_OPTED_IN}).id
    _marketer(app_client)
    page = app_client.get(f"/console/segments/{segment_id}", headers=HTML)
    assert page.status_code == 200 and "nest deeper than the builder draws" in page.text
    assert 'id="segment-save"' not in page.text


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient, role: str) -> None:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    log_in(app_client, f"{role}@example.com", secret)
    for path in ("/console/segments", "/console/segments/new"):
        page = app_client.get(path, headers=HTML)
        assert page.status_code == 403 and "This page is not part of your role" in page.text, path


@pytest.mark.browser
def test_a_segment_is_built_with_the_keyboard_alone(live_server: str, page: Page) -> None:
    """"Add a condition" left focus on the button: the new condition's field was behind it, reached by going back
    through every row. Focus now goes to it, and each redraw keeps it where the person was."""
    _people()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/segments/new")
    page.focus("#segment-name")
    page.keyboard.type("Clients FR")
    page.focus("#add-row-0")
    page.keyboard.press("Enter")
    expect(page.locator("#field-0-1")).to_be_focused()
    for field in ("language", "country"):  # Consent -> Language -> Country: the row is redrawn each time
        page.keyboard.press("ArrowDown")
        expect(page.locator("#field-0-1")).to_have_value(field)
        tools.settled(page)
        expect(page.locator("#field-0-1")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("FR")
    expect(page.locator("#segment-count")).to_have_text("2")  # opted in and in France: Personne 1 and 3
    page.focus("#segment-save")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/segments?done=saved")
    with db.session_scope() as session:
        rules = session.scalars(select(Segment.rules).where(Segment.name == "Clients FR")).one()
    assert {"field": "country", "op": "eq", "value": "FR"} in rules["all"], rules


@pytest.mark.browser
def test_keys_pressed_faster_than_the_builder_redraws_each_count_once(live_server: str, page: Page) -> None:
    """Each structural key is a request that redraws the rules. Pressed faster than a redraw, the next ones were
    dropped (their control had been replaced) or answered on the rules as they were before: "Add a condition"
    three times gave one condition, and arrowing down the field list went back to the first step. Now they
    wait their turn and each applies, in order, to the rules as the person left them."""
    _people()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/segments/new")
    # three presses inside one redraw's time (a person's keys, without the network's luck)
    page.evaluate("() => { const add = document.getElementById('add-row-0'); add.click(); add.click(); add.click(); }")
    expect(page.locator("#rules .rule")).to_have_count(4)
    tools.settled(page)
    expect(page.locator("#field-0-3")).to_be_focused()  # the last condition added
    page.evaluate("""() => { const field = document.getElementById('field-0-3');
        for (const value of ['language', 'country']) {  // ArrowDown twice: Consent -> Language -> Country
          field.value = value; field.dispatchEvent(new Event('change', {bubbles: true})); } }""")
    tools.settled(page)
    page.wait_for_timeout(300)  # a late redraw would put the field back
    expect(page.locator("#field-0-3")).to_have_value("country")
    expect(page.locator("#field-0-3")).to_be_focused()
    expect(page.locator("#rules .rule")).to_have_count(4)


@pytest.mark.browser
def test_a_prediction_nobody_holds_yet_says_why_the_count_is_nought(live_server: str, page: Page) -> None:
    """A fresh deployment with no orders (or one whose uplift model never trained): a rule on a prediction counted
    "0 contacts right now" and said nothing, as if the threshold were too strict. The builder now says why."""
    _people()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/segments/new")
    page.select_option("#field-0-0", "prediction")
    tools.settled(page)
    page.select_option("#extra-0-0", "purchase_90d")
    tools.settled(page)
    page.select_option("#op-0-0", "gt")
    tools.settled(page)
    page.fill("#value-0-0", "0.6")
    expect(page.locator("#segment-count")).to_have_text("0")
    expect(page.locator("[data-unheld]")).to_have_text(
        "No contact has a prediction of “Chance to buy in 90 days (0-1)” yet, so that condition matches nobody: "
        "predictions are learnt from the shop's orders once at least 50 customers have ordered (0 so far): load the "
        "order history (Contacts, Import orders in the console; relais orders import FILE; or Shopify's order "
        "webhooks).")
    page.select_option("#extra-0-0", "uplift")
    tools.settled(page)
    page.fill("#value-0-0", "0")
    expect(page.locator("[data-unheld]")).to_contain_text("“Uplift if texted” yet, so that condition matches "
                                                          "nobody: no uplift model has been trained yet")
    with db.session_scope() as session:  # the scoring stores a churn risk: held by one contact, nothing to explain
        contact = session.scalars(select(Contact).order_by(Contact.id)).first()
        assert contact is not None
        model = store.register_version(session, kind="churn_risk", version="test")
        store.write_predictions(session, model, [store.Score(contact.id, 0.8, {"percentile": 100.0})])
    page.select_option("#extra-0-0", "churn_risk")
    tools.settled(page)
    page.fill("#value-0-0", "0.7")
    expect(page.locator("#segment-count")).to_have_text("1")
    expect(page.locator("[data-unheld]")).to_have_count(0)
    page.set_viewport_size({"width": 390, "height": 800})
    page.select_option("#extra-0-0", "response")
    tools.settled(page)
    page.fill("#value-0-0", "0.1")
    expect(page.locator("[data-unheld]")).to_contain_text("past campaign texts: 0 campaign texts")
    assert tools.serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
def test_a_campaign_is_drafted_to_a_segment_from_the_segments_page(live_server: str, page: Page) -> None:
    """A segment just built was a trip back to Campaigns, "New campaign" and a pick from the list away from its
    campaign; each saved segment now links to the wizard with it chosen, its reach counted."""
    _people()
    with db.session_scope() as session:
        saved = domain.create(session, name="Francophones", rules={"field": "language", "op": "eq", "value": "fr"})
        segment_id = saved.id
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/segments")
    page.get_by_role("link", name="New campaign to Francophones").click()
    page.wait_for_url(f"{live_server}/console/campaigns/new?segment={segment_id}")
    expect(page.locator("#segment")).to_have_value(str(segment_id))
    expect(page.locator("#reach")).to_have_text("1")  # Personne 1 opted in; Personne 2 has no consent
    page.goto(f"{live_server}/console/campaigns/new?segment=999")  # gone since: every contact, as a new wizard
    expect(page.locator("#segment")).to_have_value("")
