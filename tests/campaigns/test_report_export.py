"""Report exports: an adaptive campaign's section, the send-time lift and each run's forecast reach the CSV and
the XLSX, read back and checked against the JSON report of the same campaign."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import String, cast, literal, select, update

from campaigns import adaptive, flows, forecasting
from campaigns.models import Campaign
from contacts.models import Order
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.campaigns.test_adaptive import NOW, adaptive_campaign, run_adaptive
from tests.campaigns.test_send_time import WINDOW, synthetic_outcomes
from tests.helpers import auth_headers


def _exports(client: TestClient, campaign_id: int) -> tuple[dict[str, Any], dict[tuple[str, str], str], Any]:
    headers = auth_headers("analyst")
    path = f"/api/v1/campaigns/{campaign_id}/report"
    report = client.get(path, headers=headers).json()
    exported = client.get(f"{path}?format=csv", headers=headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    flat = {(r["scope"], r["metric"]): r["value"] for r in rows}
    assert len(flat) == len(rows)  # no (scope, metric) twice
    book = client.get(f"{path}?format=xlsx", headers=headers)
    assert book.status_code == 200
    return report, flat, load_workbook(io.BytesIO(book.content))


def _table(sheet: Any) -> list[tuple[Any, ...]]:
    return [row for row in sheet.iter_rows(values_only=True)]


def _shown(value: Any) -> str:
    return "n/a" if value is None else str(value)


def test_an_adaptive_campaign_exports_allocation_rates_lift_and_stopping_state(
        app_client: TestClient, runtime: Settings) -> None:
    cid = adaptive_campaign(300, arms=2, max_hours=2)
    run_adaptive(cid, {"A": 0.05, "B": 0.25})
    with db.session_scope() as session:  # some recipients and some held-out contacts buy within the window
        messages = session.execute(select(Message.contact_id, Message.created_at)
                                   .where(Message.campaign_id == cid).order_by(Message.id)).all()
        for n, (contact_id, at) in enumerate(messages[::4]):
            session.add(Order(contact_id=contact_id, source="api", external_id=f"t{n}", status="paid",
                              ordered_at=at + timedelta(days=1)))
        control = adaptive.control_members(session, session.get_one(Campaign, cid))
        for n, (contact_id, at) in enumerate(control[::2]):
            session.add(Order(contact_id=contact_id, source="api", external_id=f"c{n}", status="paid",
                              ordered_at=at + timedelta(days=1)))
    report, flat, book = _exports(app_client, cid)
    section = report["adaptive"]
    assert section["batches"] and section["purchases"]["control"]["successes"] > 0

    # CSV: the settings and stopping state, every batch's allocation and P(best), every group's rates and lift
    assert flat[("adaptive", "why")] == section["why"] and flat[("adaptive", "winner")] == section["winner"]
    assert flat[("adaptive", "control_share")] == str(section["control_share"])
    for batch in section["batches"]:
        scope = f"adaptive batch {batch['batch']}"
        assert flat[(scope, "at")] == batch["at"]
        assert {arm: int(flat[(scope, f"allocated.{arm}")]) for arm in batch["counts"]} == batch["counts"]
        assert {arm: flat[(scope, f"p_best.{arm}")] for arm in batch["p_best"]} == {
            arm: _shown(p) for arm, p in batch["p_best"].items()}
    for arm in ("A", "B"):
        scope = f"adaptive arm {arm}"
        assert int(flat[(scope, "clicks.n")]) == section["arms"][arm]["n"] > 0
        assert flat[(scope, "clicks.rate")] == str(section["arms"][arm]["rate"])
        assert flat[(scope, "purchases.successes")] == str(section["purchases"][arm]["successes"])
        assert flat[(scope, "lift_over_control.low")] == str(section["lift"][arm]["low"])
    assert flat[("adaptive control", "purchases.rate")] == str(section["purchases"]["control"]["rate"])
    assert ("adaptive control", "lift_over_control.lift") not in flat  # the control is the yardstick
    assert flat[("adaptive all variants", "lift_over_control.lift")] == str(section["lift"]["all variants"]["lift"])

    # XLSX: the flat rows on the first sheet, and a table per adaptive part on sheets of their own
    assert book.sheetnames[:4] == [f"campaign {cid}", "texts sent", "adaptive allocation", "adaptive arms"]
    assert ("adaptive", "why", section["why"]) in _table(book.worksheets[0])
    head, *batches = _table(book["adaptive allocation"])
    assert head == ("batch", "at (UTC)", "allocated control", "allocated A", "allocated B", "P(best) A", "P(best) B")
    assert [row[0] for row in batches] == [b["batch"] for b in section["batches"]]
    assert [row[2:5] for row in batches] == [
        (b["counts"]["control"], b["counts"]["A"], b["counts"]["B"]) for b in section["batches"]]
    arms = {row[0]: row for row in _table(book["adaptive arms"]) if row and row[0]}
    assert arms["group"][1] == "clicks n" and arms["group"][-3] == "lift over control lift"
    assert arms["control"][1:6] == ("n/a",) * 5 and arms["control"][-3:] == ("n/a",) * 3
    assert arms["B"][1] == section["arms"]["B"]["n"] and arms["B"][-3] == pytest.approx(section["lift"]["B"]["lift"])
    assert arms["all variants"][7] == section["purchases"]["all variants"]["successes"]
    assert arms["stopping state"][1] == section["why"]


def test_send_time_lift_and_each_runs_forecast_are_exported(app_client: TestClient, runtime: Settings) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), send_time=WINDOW)
        synthetic_outcomes(session, campaign, 14, 500, 300, 0.30, 0.18)
        campaign.status, campaign.run = "completed", 1
        cid = campaign.id
        session.execute(update(Message).where(Message.campaign_id == cid).values(  # as preparation keys them
            idempotency_key=literal(f"campaign:{cid}:1:") + cast(Message.contact_id, String)))
    with db.session_scope() as session:
        assert forecasting.record(session, session.get_one(Campaign, cid), now=NOW, run=1) is not None
    report, flat, book = _exports(app_client, cid)
    lift = report["send_time"]["lift"]["click"]
    assert flat[("send time lift", "click.difference")] == str(lift["difference"])
    assert flat[("send time lift", "click.sentence")] == lift["sentence"]
    assert flat[("send time", "holdout")] == str(report["send_time"]["holdout"])
    table = _table(book["send time"])
    assert table[0][:3] == ("group", "messages", "sent")
    lifts = {row[0]: row for row in table if row and row[0] in ("click", "conversion")}
    assert lifts["click"][3] == pytest.approx(lift["difference"]) and lifts["click"][6] == lift["sentence"]
    forecast = report["forecast"]["runs"][0]
    delivered = next(m for m in forecast["metrics"] if m["metric"] == "delivered")
    assert flat[("forecast run 1", "made_at")] == forecast["made_at"]
    assert flat[("forecast run 1", "delivered.expected")] == str(delivered["forecast"]["expected"])
    assert delivered["actual"] == 800 and flat[("forecast run 1", "delivered.actual")] == "800.0"
    rows = _table(book["forecast"])
    assert rows[0] == ("run", "made at (UTC)", "metric", "expected", "low80", "high80", "low95", "high95", "actual",
                       "within 80 %", "within 95 %", "basis")
    assert [r[2] for r in rows[1:]] == [m["metric"] for m in forecast["metrics"]]
    assert rows[1][3] == pytest.approx(delivered["forecast"]["expected"]) and rows[1][8] == delivered["actual"]


FORMULAS = ('=HYPERLINK("https://evil.example","x")', "@SUM(1+1)")


def test_arm_names_typed_as_formulas_stay_text_in_every_export(app_client: TestClient, runtime: Settings) -> None:
    """A marketer names the arms; an analyst opens the export. openpyxl stored a name starting with
    ``=`` as a live formula in the XLSX, and the CSVs wrote it as typed."""
    with db.session_scope() as session:
        for i in range(120):
            create_contact(session, i)
        templates = [create_template(session, body=f"Version {n} https://shop.example/{n}", name=f"t{n}")
                     for n in range(2)]
        arms = [{"name": name, "template_id": t.id} for name, t in zip(FORMULAS, templates, strict=True)]
        ab = {"mode": "adaptive", "arms": arms, "batch_size": 60, "batch_minutes": 60, "max_hours": 2}
        cid = create_campaign(session, templates[0], ab=ab, frequency_cap=0).id
        flows.start_run(session, session.get_one(Campaign, cid), now=NOW)
    run_adaptive(cid, dict.fromkeys(FORMULAS, 0.2))
    _, flat, book = _exports(app_client, cid)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert {c.value for c in cells} >= set(FORMULAS)  # shown as typed, on the arms' sheet
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    csv_cells = [cell for key, value in flat.items() for cell in (*key, value)]
    recipients = app_client.get(f"/console/campaigns/{cid}/recipients.csv", headers=auth_headers("analyst"))
    assert recipients.status_code == 200
    csv_cells += [cell for row in csv.reader(io.StringIO(recipients.text)) for cell in row]
    assert "'" + FORMULAS[0] in csv_cells
    numbers = set("0123456789.-+e")  # a negative lift stays a number
    assert [c for c in csv_cells if c.startswith(("=", "+", "-", "@")) and not set(c) <= numbers] == []


def test_each_export_names_the_text_each_group_of_recipients_got(app_client: TestClient, runtime: Settings) -> None:
    """The console's report says which template (and translation) each group got; the CSV and the XLSX named no
    text, so a marketer reading an A/B test or a translated campaign in a spreadsheet could not tell them apart."""
    with db.session_scope() as session:
        english = create_template(session, body="Spring sale: 20 % off https://shop.example/s", name="Spring sale",
                                  language="en")
        french = create_template(session, body="Soldes : -20 % https://shop.example/s", name="Soldes", language="fr")
        formula = create_template(session, body="=1+1 lamps https://shop.example/s", name="@promo", language="en")
        translated = create_campaign(session, english, name="Spring", translations={"fr": french.id}).id
        tested = create_campaign(session, english, name="Tested", ab={"arms": [
            {"name": "A", "template_id": english.id, "weight": 50},
            {"name": "B", "template_id": formula.id, "weight": 50}]}).id
        ids = {"en": english.id, "fr": french.id, "formula": formula.id}

    report, flat, book = _exports(app_client, translated)
    assert report["texts"] == [
        {"recipients": "language fr", "template_id": ids["fr"], "template": "Soldes", "language": "fr",
         "body": "Soldes : -20 % https://shop.example/s"},
        {"recipients": "everyone else", "template_id": ids["en"], "template": "Spring sale", "language": "en",
         "body": "Spring sale: 20 % off https://shop.example/s"}]
    assert flat[("text sent", "language fr.template")] == "Soldes"
    assert flat[("text sent", "language fr.template_id")] == str(ids["fr"])
    assert flat[("text sent", "everyone else.body")] == "Spring sale: 20 % off https://shop.example/s"
    assert book.sheetnames[1] == "texts sent"
    assert _table(book["texts sent"]) == [
        ("recipients", "template id", "template", "language", "text (as the template reads now)"),
        ("language fr", ids["fr"], "Soldes", "fr", "Soldes : -20 % https://shop.example/s"),
        ("everyone else", ids["en"], "Spring sale", "en", "Spring sale: 20 % off https://shop.example/s")]

    _, flat, book = _exports(app_client, tested)  # each arm's template, a text typed like a formula kept as text
    assert flat[("text sent", "arm A.template")] == "Spring sale"
    assert flat[("text sent", "arm B.template")] == "'@promo"
    assert flat[("text sent", "arm B.body")] == "'=1+1 lamps https://shop.example/s"
    rows = _table(book["texts sent"])
    assert [row[:3] for row in rows[1:]] == [("arm A", ids["en"], "Spring sale"), ("arm B", ids["formula"], "@promo")]
    assert [c.coordinate for row in book["texts sent"].iter_rows() for c in row if c.data_type == "f"] == []
