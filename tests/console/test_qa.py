"""The console's QA page: stored eval reports per suite with figures, thresholds and trends."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.console.qa import sparkline
from core.settings import Settings
from eval.report import Failure, Report
from tests.console.helpers import create_console_user, log_in
from tests.eval.stored import stored
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def store(suite: str, day: int, **summary: float) -> str:
    """A report published the way ``relais eval run`` publishes it; returns its id."""
    return stored(Report(suite=suite, summary=summary, metrics={}, thresholds={"accuracy": 0.97},
                         created_at=f"2026-03-0{day}T00:00:00+00:00"), datetime(2026, 3, day, tzinfo=UTC))


def _row(page: str, report_id: str) -> str:
    match = re.search(rf'<tr data-report="{re.escape(report_id)}">(.*?)</tr>', page, re.S)
    assert match, report_id
    return match.group(1)


def test_analyst_sees_each_run_with_figures_thresholds_and_a_trend(app_client: TestClient, runtime: Settings) -> None:
    first = store("keywords", 1, accuracy=0.99, n=120)
    latest = store("keywords", 2, accuracy=0.95, n=130)
    other = store("clinc150", 3, accuracy=0.98, oos_recall=0.8)
    _, secret = create_console_user("qa@example.com", role="analyst")
    log_in(app_client, "qa@example.com", secret)

    page = app_client.get("/console/qa", headers=HTML)
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/console/qa" aria-current="page"' in text
    # suites by name, newest run first within a suite
    assert text.index('data-suite="clinc150"') < text.index('data-suite="keywords"')
    assert text.index(f'data-report="{latest}"') < text.index(f'data-report="{first}"')
    assert "keywords: 2 of 2 runs, newest first</caption>" in text

    newest = _row(text, latest)
    # shares as percentages, as the run's report.html says them (the page said "0.950" beside its "95.0 %")
    assert "95.0 %" in newest and "130" in newest and "Failed" in newest and "0.950" not in newest
    assert "below minimum 97.0 %" in newest
    assert "-4.0 pts regression" in newest and "+10" in newest
    assert f'href="/api/v1/eval/reports/{latest}/html"' in newest
    assert f'href="/api/v1/eval/reports/{latest}"' in newest
    oldest = _row(text, first)
    assert "99.0 %" in oldest and "Passed" in oldest and "meets minimum 97.0 %" in oldest and "regression" not in oldest
    assert "Passed" in _row(text, other)

    # one sparkline per quality figure (not for counts), described in words
    assert text.count('<svg class="qa-spark" role="img"') == 3  # keywords accuracy, clinc150 accuracy + oos_recall
    described = ("Accuracy over 2 runs, oldest to newest: 99.0 %, 95.0 % (lowest 95.0 %, highest 99.0 %; higher is "
                 "better)")
    assert described in text

    # the links it shows work for the same session
    report = app_client.get(f"/api/v1/eval/reports/{latest}/html", headers=HTML)
    assert report.status_code == 200 and "Evaluation: keywords" in report.text
    assert app_client.get(f"/api/v1/eval/reports/{latest}").json()["summary"]["accuracy"] == 0.95

    limited = app_client.get("/console/qa?runs=1", headers=HTML).text
    assert "keywords: 1 of 2 runs, newest first</caption>" in limited and f'data-report="{first}"' not in limited


def test_sparkline_scales_values_into_the_box() -> None:
    spark = sparkline("latency_p95_ms", [200.0, 100.0, 150.0])
    points = [tuple(map(float, p.split(","))) for p in spark.points.split()]
    assert [x for x, _ in points] == [3.0, 60.0, 117.0]
    assert points[0][1] == 3.0 and points[1][1] == 25.0 and points[2][1] == 14.0  # highest at the top
    assert spark.last == points[-1]
    assert "lower is better" in spark.description
    flat = sparkline("accuracy", [0.9])
    assert flat.points == "3.0,14.0 117.0,14.0"


def test_page_is_guarded_and_empty_without_reports(app_client: TestClient) -> None:
    anonymous = app_client.get("/console/qa", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login?next=%2Fconsole%2Fqa"
    assert app_client.get("/console/qa", headers={**HTML, **auth_headers("agent")}).status_code == 403
    assert app_client.get("/console/qa", headers={**HTML, **auth_headers("marketer")}).status_code == 403
    empty = app_client.get("/console/qa", headers={**HTML, **auth_headers("admin")})
    assert empty.status_code == 200 and "No reports yet" in empty.text


def test_the_report_page_links_its_json_instead_of_dumping_it(app_client: TestClient, runtime: Settings) -> None:
    metrics = {"per_intent": {f"intent_{n}": {"precision_of_this_rare_intent": n / 40} for n in range(40)}}
    report = Report(suite="intents", summary={"accuracy": 0.9}, metrics=metrics,
                    confusion={"labels": ["a", "b"], "matrix": [[5, 0], [1, 4]]})
    report_id = stored(report, datetime(2026, 3, 4, tzinfo=UTC))
    headers = {**HTML, **auth_headers("analyst")}
    page = app_client.get(f"/api/v1/eval/reports/{report_id}/html", headers=headers)
    assert page.status_code == 200
    assert '<a href="report.json" download>report.json</a>' in page.text
    assert "precision_of_this_rare_intent" not in page.text  # the per-part figures stay in the JSON
    # the darkest heat-map cell (a row all on one label) is drawn with white text, legible on it
    assert '<td style="background: hsl(215, 70%, 42%); color: #fff">5</td>' in page.text
    # the relative link resolves beside the page, to the same file
    linked = app_client.get(f"/api/v1/eval/reports/{report_id}/report.json", headers=auth_headers("analyst"))
    assert linked.json()["metrics"]["per_intent"]["intent_39"]["precision_of_this_rare_intent"] == 0.975


def test_each_figure_reads_against_its_baselines(app_client: TestClient, runtime: Settings) -> None:
    """The propensity suite measures its model beside two baselines in the same run: the page said
    nothing of it (purchase_auc 0.700 and purchase_auc_recency 0.720 sat apart, unmarked); now the
    model's cell says whether it beats them, a lower-is-better error included, and each baseline says whose."""
    summary = {"purchase_auc": 0.70, "purchase_auc_recency": 0.72, "purchase_auc_rfm_logistic": 0.65,
               "revenue_error": 0.10, "revenue_error_run_rate": 0.30, "hit_at_10": None, "hit_at_10_most_popular": 0.2}
    report_id = stored(Report(suite="propensity", summary=summary, metrics={}, created_at="2026-03-04T00:00:00+00:00",
                              baselines={"purchase_auc": ["purchase_auc_recency", "purchase_auc_rfm_logistic"],
                                         "revenue_error": ["revenue_error_run_rate"],
                                         "hit_at_10": ["hit_at_10_most_popular"]}), datetime(2026, 3, 4, tzinfo=UTC))
    page = app_client.get("/console/qa", headers={**HTML, **auth_headers("analyst")})
    assert page.status_code == 200, page.text
    cells = re.findall(r"<td>(.*?)</td>", _row(page.text, report_id), re.S)
    by_figure = dict(zip(["result", *list(summary)], [" ".join(c.split()) for c in cells], strict=True))
    assert "not above baseline Purchase ranking (AUC): recency alone" in by_figure["purchase_auc"]
    assert "baseline of Purchase ranking (AUC)" in by_figure["purchase_auc_recency"]
    assert "beats its baseline" in by_figure["revenue_error"]  # 0.10 against 0.30: lower is better
    assert "n/a" in by_figure["hit_at_10"] and "baseline" not in by_figure["hit_at_10"].replace("n/a", "")


def test_a_figure_a_hair_above_its_baseline_is_level_with_it(app_client: TestClient, runtime: Settings) -> None:
    """The propensity run's AUC of 0.7523 beside its RFM baseline's 0.7521 read "beats its 2 baselines": a margin no
    rerun keeps. Ahead by less than half a point it is level; the baseline it clearly beats is named."""
    summary = {"purchase_auc": 0.7523, "purchase_auc_recency": 0.668, "purchase_auc_rfm_logistic": 0.7521,
               "next_purchase_mae_days": 24.9, "next_purchase_mae_days_own_gap": 25.0}
    report_id = stored(Report(suite="propensity", summary=summary, metrics={}, created_at="2026-03-04T00:00:00+00:00",
                              baselines={"purchase_auc": ["purchase_auc_recency", "purchase_auc_rfm_logistic"],
                                         "next_purchase_mae_days": ["next_purchase_mae_days_own_gap"]}),
                       datetime(2026, 3, 4, tzinfo=UTC))  # fmt: skip
    page = app_client.get("/console/qa", headers={**HTML, **auth_headers("analyst")})
    cells = re.findall(r"<td>(.*?)</td>", _row(page.text, report_id), re.S)
    by_figure = dict(zip(["result", *list(summary)], [" ".join(c.split()) for c in cells], strict=True))
    auc = by_figure["purchase_auc"]
    assert "level with baseline Purchase ranking (AUC): RFM logistic regression" in auc and "2 baselines" not in auc
    assert "beats baseline Purchase ranking (AUC): recency alone" in auc
    days = by_figure["next_purchase_mae_days"]  # 0.1 day of 25: level, lower being better
    assert "level with baseline" in days and "beats" not in days


def test_figures_are_named_in_words_with_their_meaning(app_client: TestClient, runtime: Settings) -> None:
    """The tables' columns read "macro_f1", "groundedness", "opt_out_handled_unseen": a QA reader had to
    look them up in the code. Each column is named in words, and under the table each says what it measures
    (with its name in the report, for the JSON); a figure no one has described yet keeps its name."""
    store("agent", 1, groundedness=0.91, opt_out_handled_unseen=0.97, macro_f1=0.88, novel_figure=0.5)
    text = app_client.get("/console/qa", headers={**HTML, **auth_headers("analyst")}).text
    headers = re.findall(r'<th scope="col" data-figure="([^"]+)">([^<]+)</th>', text)
    assert headers == [("groundedness", "Grounded"), ("opt_out_handled_unseen", "Opt-outs handled, unseen wordings"),
                       ("macro_f1", "Macro-F1"), ("novel_figure", "novel_figure")]  # fmt: skip
    meanings = " ".join(text[text.index("What the figures mean") :].split())
    assert ("<dt>Grounded</dt> <dd>average share of a reply's statements backed by the passages it used "
            "<code>groundedness</code></dd>") in meanings.replace("&#39;", "'")  # fmt: skip
    assert "<dt>novel_figure</dt> <dd><code>novel_figure</code></dd>" in meanings


def test_two_runs_compare_side_by_side_with_the_cases_that_changed(app_client: TestClient, runtime: Settings) -> None:
    """The page gave each run's change since the one before, not which cases a drop came from: that took
    ``relais eval compare`` on two report folders. Each run now links to its comparison with the run before it."""
    def failure(case: str) -> Failure:
        return Failure(id=case, input=f"text of {case}", expected="reply", got="escalate", detail="fr")

    first = stored(Report(suite="agent", summary={"pass_rate": 0.95, "cases": 40}, metrics={},
                          failures=[failure("a"), failure("b")], created_at="2026-03-01T00:00:00+00:00"),
                   datetime(2026, 3, 1, tzinfo=UTC))  # fmt: skip
    second = stored(Report(suite="agent", summary={"pass_rate": 0.9, "cases": 20}, metrics={},
                           failures=[failure("b"), failure("c")], created_at="2026-03-02T00:00:00+00:00"),
                    datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
    analyst = {**HTML, **auth_headers("analyst")}
    page = app_client.get("/console/qa", headers=analyst).text
    link = f'href="/console/qa/compare?before={first}&amp;after={second}"'
    assert link in _row(page, second) and "/console/qa/compare" not in _row(page, first)  # its first run: none
    shown = app_client.get(f"/console/qa/compare?before={first}&after={second}", headers=analyst)
    assert shown.status_code == 200, shown.text
    text = " ".join(re.sub(r"<[^>]+>", " ", shown.text).split())
    assert "Cases passed 95.0 % 90.0 % -5.0 pts regression" in text
    assert "The runs measured different cases (cases: 40 → 20)" in text
    assert "Failing now, passed before (1) Case Text Expected Got Detail c text of c reply escalate fr" in text
    assert "Passing now, failed before (1): a" in text
    assert app_client.get(f"/console/qa/compare?before={first}&after=agent/nope", headers=analyst).status_code == 404
    assert app_client.get(f"/console/qa/compare?before={first}&after={second}",
                          headers={**HTML, **auth_headers("marketer")}).status_code == 403
