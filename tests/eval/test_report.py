"""Reports on disk and published, comparing them, and the listing with trends."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import db
from core.errors import NotFound
from core.settings import Settings
from eval.compare import compare
from eval.paths import new_report_dir
from eval.report import Failure, Report, load, write
from eval.store import list_reports, read_report, report_html
from tests.eval.stored import stored


def make_report(accuracy: float, latency: float = 10.0) -> Report:
    return Report(
        suite="demo", summary={"accuracy": accuracy, "latency_p50_ms": latency, "n": 3},
        metrics={}, confusion={"labels": ["a", "b"], "matrix": [[2, 0], [1, 0]]},
        failures=[Failure(id="c1", input="<script>x</script>", expected="b", got="a", sources=["faq.csv: Q"])],
        thresholds={"accuracy": 0.9},
    )


def test_write_and_load(tmp_path: Path) -> None:
    json_path, html_path = write(make_report(0.5), tmp_path / "r")
    body = load(tmp_path / "r")
    assert body["passed"] is False and body["summary"]["accuracy"] == 0.5
    assert load(json_path) == body
    html = html_path.read_text()
    assert "below threshold" in html and "faq.csv: Q" in html
    assert "<script>x</script>" not in html  # inputs are escaped


def test_compare_flags_regressions_in_both_directions() -> None:
    before, after = make_report(0.9).to_dict(), make_report(0.85, latency=30.0).to_dict()
    changes = {c.metric: c for c in compare(before, after)}
    assert changes["accuracy"].regression and changes["latency_p50_ms"].regression
    assert not changes["n"].regression
    assert not any(c.regression for c in compare(before, make_report(0.897, latency=11.0).to_dict()))
    fewer = make_report(0.9).to_dict() | {"summary": {"gate.n": 1, "gate.latency_p95_ms": 10.0, "gate.f1": 0.5}}
    worse = {"summary": {"gate.n": 0, "gate.latency_p95_ms": 20.0, "gate.f1": 0.5}}
    assert {c.metric for c in compare(fewer, worse) if c.regression} == {"gate.latency_p95_ms"}


def test_report_folders_are_never_overwritten(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path})
    write(make_report(0.8), new_report_dir(settings, "demo", datetime(2026, 1, 2, tzinfo=UTC)))
    assert new_report_dir(settings, "demo", datetime(2026, 1, 2, tzinfo=UTC)).name == "20260102T000000Z-2"


def test_listing_with_trends(runtime: Settings) -> None:
    stored(make_report(0.9), datetime(2026, 1, 1, tzinfo=UTC))
    stored(make_report(0.8), datetime(2026, 1, 2, tzinfo=UTC))
    assert stored(make_report(0.7), datetime(2026, 1, 2, tzinfo=UTC)) == "demo/20260102T000000Z-2"  # same second
    with db.session_scope() as session:
        entries = list_reports(session)
        assert [e.id for e in entries] == ["demo/20260102T000000Z-2", "demo/20260102T000000Z", "demo/20260101T000000Z"]
        assert entries[1].trend["accuracy"] == -0.1 and entries[1].regressions == ["accuracy"]
        assert entries[2].trend == {}
        assert read_report(session, entries[1].id)["summary"]["accuracy"] == 0.8
        assert "Evaluation: demo" in report_html(session, entries[1].id)
        assert list_reports(session, "other") == []
        for bad in ("demo/../../etc", "demo", "nope/20260101T000000Z"):
            with pytest.raises(NotFound):
                read_report(session, bad)


def test_html_shows_shares_as_percent_and_times_as_numbers(tmp_path: Path) -> None:
    report = Report(suite="s", summary={"accuracy": 0.5, "latency_p50_ms": 0.29, "x.n": 1}, metrics={})
    _, html_path = write(report, tmp_path)
    html = html_path.read_text()
    assert "50.0 %" in html and ">0.29<" in html and "29.0 %" not in html and "100.0 %" not in html  # as the QA page


def test_scores_and_days_between_0_and_1_are_no_percentages(tmp_path: Path) -> None:
    """Every figure between 0 and 1 was printed as a percentage: a Spearman of 0.41 read "41.0 %", an AUC "78.0 %",
    a next-purchase error of 0.8 days "80.0 %"."""
    summary = {"spend_spearman": 0.41, "purchase_auc": 0.78, "purchase_auc_recency": 0.7, "mrr": 0.894,
               "next_purchase_mae_days": 0.8, "revenue_error": 0.25, "hit_at_10": 0.12, "latency_p95_ms": 154.91}
    _, html_path = write(Report(suite="propensity", summary=summary, metrics={}), tmp_path)
    values = re.findall(r'<div class="value">([^<]*)</div>', html_path.read_text())
    assert values == ["0.410", "0.780", "0.700", "0.894", "0.80", "25.0 %", "12.0 %", "154.9"]


def test_html_names_each_figure_in_words_with_its_meaning(tmp_path: Path) -> None:
    """The summary's cards read "macro_f1", "groundedness": each now says what it is and what it measures,
    with the name the JSON uses; a figure nobody described keeps its name."""
    report = Report(suite="agent", summary={"groundedness": 0.9, "macro_f1": 0.8, "novel": 0.5}, metrics={},
                    thresholds={"groundedness": 0.85})
    _, html_path = write(report, tmp_path)
    html = " ".join(html_path.read_text().split()).replace("&#39;", "'")
    assert ('<div class="name">Grounded (min 85.0 %)</div> <div class="meaning">average share of a reply\'s '
            "statements backed by the passages it used <code>groundedness</code></div>") in html
    assert '<div class="name">Macro-F1</div>' in html and '<div class="name">novel</div>' in html


def test_failure_limit(tmp_path: Path) -> None:
    many = [Failure(id=str(i), input="x", expected="a", got="b") for i in range(60)]
    body = Report(suite="s", summary={}, metrics={}, failures=many).to_dict()
    assert len(body["failures"]) == 50 and body["failures_total"] == 60
    assert len(Report(suite="s", summary={}, metrics={}, failures=many, failure_limit=None).to_dict()["failures"]) == 60


def test_an_undefined_figure_is_shown_as_n_a_and_meets_no_threshold(tmp_path: Path) -> None:
    report = Report(suite="agent", summary={"escalation_recall": None, "pass_rate": 0.97},
                    metrics={}, thresholds={"escalation_recall": 0.9, "pass_rate": 0.95})
    assert report.failed_thresholds == {"escalation_recall": (None, 0.9)} and not report.passed
    _, html_path = write(report, tmp_path)
    html = html_path.read_text()
    assert ">n/a<" in html and "100.0 %" not in html and "97.0 %" in html
    assert load(tmp_path)["summary"]["escalation_recall"] is None  # JSON null


def test_comparisons_and_trends_skip_figures_that_are_n_a(runtime: Settings) -> None:
    before = Report(suite="demo", summary={"accuracy": 0.9, "escalation_recall": 0.8}, metrics={})
    after = Report(suite="demo", summary={"accuracy": 0.91, "escalation_recall": None}, metrics={})
    assert [c.metric for c in compare(before.to_dict(), after.to_dict())] == ["accuracy"]
    stored(before, datetime(2026, 1, 1, tzinfo=UTC))
    stored(after, datetime(2026, 1, 2, tzinfo=UTC))
    with db.session_scope() as session:
        newest = list_reports(session)[0]
    assert newest.trend == {"accuracy": 0.01} and newest.summary["escalation_recall"] is None


def test_a_skipped_part_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    report = Report(suite="gate", summary={"keywords.accuracy": 1.0},
                    metrics={"skipped": {"clinc150": "CLINC150 training file not found at /nowhere"}},
                    thresholds={"keywords.accuracy": 0.98, "clinc150.oos_recall": 0.6})
    assert report.failed_thresholds == {"clinc150.oos_recall": (None, 0.6)}
    assert report.skipped == {"clinc150": "CLINC150 training file not found at /nowhere"} and not report.passed
    assert not Report(suite="gate", summary={}, metrics={"skipped": {"clinc150": "x"}}).passed  # even with no threshold
    _, html_path = write(report, tmp_path)
    html = html_path.read_text()
    assert "Part skipped, so this run does not pass: clinc150: CLINC150 training file not found" in html
    assert load(tmp_path)["passed"] is False


def test_the_report_names_the_split_each_choice_was_made_on(tmp_path: Path) -> None:
    report = Report(suite="clinc150", summary={"oos_recall": 0.9}, metrics={},
                    choices={"head C=10, temperature, out-of-scope log-ratio": "3-fold out-of-fold on train only"})
    _, html_path = write(report, tmp_path)
    html = html_path.read_text()
    assert "Choices and the split each was made on" in html and "3-fold out-of-fold on train only" in html


def test_the_html_page_rounds_as_the_qa_page_and_links_back_to_it(tmp_path: Path) -> None:
    """The cards printed ``24.885103823460234``; the page had no way back to the console's QA page."""
    from urllib.parse import urljoin

    from eval.figures import fmt

    _, html_path = write(make_report(0.5, latency=24.885103823460234), tmp_path / "r")
    html = html_path.read_text()
    assert fmt(24.885103823460234) == "24.885" and '<div class="value">24.9</div>' in html  # milliseconds
    assert "24.8851" not in html
    href = re.search(r'<a href="([^"]+)" id="qa-link">', html)
    assert href is not None and not href.group(1).startswith(("/", "http"))  # relative: harmless opened from disk
    served = "http://relais.example/api/v1/eval/reports/demo/20260101T000000Z/html"  # where the console serves it
    assert urljoin(served, href.group(1)) == "http://relais.example/console/qa"
