"""QA report routes: analyst (and admin) only, listing with trends, JSON and the HTML page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from core.settings import Settings
from eval.report import Report
from tests.eval.stored import stored
from tests.helpers import auth_headers


def store(settings: Settings, accuracy: float, day: int) -> str:
    return stored(Report(suite="keywords", summary={"accuracy": accuracy, "opt_out_recall": 1.0}, metrics={},
                         created_at=f"2026-03-0{day}T00:00:00+00:00"), datetime(2026, 3, day, tzinfo=UTC))


def test_reports_for_analysts(app_client: TestClient, runtime: Settings) -> None:
    store(runtime, 0.99, 1)
    latest = store(runtime, 0.95, 2)
    analyst = auth_headers("analyst")
    listed = app_client.get("/api/v1/eval/reports", headers=analyst)
    assert listed.status_code == 200
    body = listed.json()
    assert [r["id"] for r in body] == [latest, "keywords/20260301T000000Z"]
    assert body[0]["trend"] == {"accuracy": -0.04, "opt_out_recall": 0.0}
    assert body[0]["regressions"] == ["accuracy"]
    assert app_client.get("/api/v1/eval/reports?suite=nope", headers=analyst).json() == []

    one = app_client.get(f"/api/v1/eval/reports/{latest}", headers=analyst)
    assert one.status_code == 200 and one.json()["summary"]["accuracy"] == 0.95
    page = app_client.get(f"/api/v1/eval/reports/{latest}/html", headers=auth_headers("admin"))
    assert page.status_code == 200 and "Evaluation: keywords" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert app_client.get("/api/v1/eval/reports/keywords/missing", headers=analyst).status_code == 404


def test_reports_need_the_analyst_role(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/eval/reports").status_code == 401
    assert app_client.get("/api/v1/eval/reports", headers=auth_headers("agent")).status_code == 403


def test_report_page_links_its_json_instead_of_dumping_it(app_client: TestClient, runtime: Settings) -> None:
    metrics = {"per_language": {code: {"accuracy": 0.9, "n": 100} for code in ("en", "fr", "de", "es", "it", "pt")}}
    report_id = stored(Report(suite="keywords", summary={"accuracy": 0.9}, metrics=metrics,
                              created_at="2026-03-03T00:00:00+00:00"), datetime(2026, 3, 3, tzinfo=UTC))
    analyst = auth_headers("analyst")
    url = f"/api/v1/eval/reports/{report_id}/html"
    page = app_client.get(url, headers=analyst).text
    assert "<pre>" not in page and '"per_language"' not in page  # no raw JSON at the end
    assert '<a href="report.json" download>' in page
    linked = app_client.get(url.rsplit("/", 1)[0] + "/report.json", headers=analyst)  # the link, resolved
    assert linked.status_code == 200 and linked.json()["metrics"] == metrics
