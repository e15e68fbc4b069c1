"""``relais eval`` commands through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings
from eval.report import Failure, Report, write
from tests.helpers import auth_headers

runner = CliRunner()


def test_list_names_every_suite() -> None:
    result = runner.invoke(app, ["eval", "list"])
    assert result.exit_code == 0
    for name in ("clinc150", "banking77", "sentiment", "language", "keywords", "redteam", "agent", "retrieval",
                 "gate"):
        assert name in result.output


def test_run_keywords_on_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "a", "text": "STOP", "expect": {"decision": "opt_out"}}\n'
                     '{"id": "b", "text": "stop it now", "expect": {"decision": "opt_out"}}\n', encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "run", "--suite", "keywords", "--data", str(cases), "--out", str(out),
                                 "--check"])
    assert result.exit_code == 1, result.output  # "stop it now" is no keyword: opt-out recall 0.5
    body = json.loads((out / "report.json").read_text())
    assert body["summary"]["opt_out_recall"] == 0.5 and body["passed"] is False
    assert [f["id"] for f in body["failures"]] == ["b"]
    assert (out / "report.html").exists()
    assert "1 failed case · report:" in " ".join(result.output.split())  # it read "1 failures"
    assert "50.0 %" in result.output and "≥ 100.0 %" in result.output  # as the QA page says it; it read 0.5, ≥ 1.0


def test_unknown_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["eval", "run", "--suite", "nope"])
    assert result.exit_code != 0 and "unknown suite" in result.output


def test_compare_exit_code(tmp_path: Path) -> None:
    write(Report(suite="x", summary={"accuracy": 0.9}, metrics={}), tmp_path / "a")
    write(Report(suite="x", summary={"accuracy": 0.8}, metrics={}), tmp_path / "b")
    worse = runner.invoke(app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert worse.exit_code == 1 and "regressions" in worse.output
    better = runner.invoke(app, ["eval", "compare", str(tmp_path / "b"), str(tmp_path / "a")])
    assert better.exit_code == 0 and "no regression" in better.output
    tolerant = runner.invoke(app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--tolerance", "0.2"])
    assert tolerant.exit_code == 0


def test_compare_names_the_cases_that_started_and_stopped_failing(tmp_path: Path) -> None:
    """A comparison gave the headline figures only: which cases a drop came from meant reading both reports'
    failure tables side by side. It also compared a 20-case smoke run with the 40-case one as a regression, without
    a word that they measured different cases."""
    def failure(case: str) -> Failure:
        return Failure(id=case, input=f"text of {case}", expected="reply", got="escalate")

    write(Report(suite="agent", summary={"pass_rate": 0.95, "cases": 40}, metrics={},
                 failures=[failure("a"), failure("b")]), tmp_path / "a")  # fmt: skip
    write(Report(suite="agent", summary={"pass_rate": 0.9, "cases": 20}, metrics={},
                 failures=[failure("b"), failure("c")]), tmp_path / "b")  # fmt: skip
    done = runner.invoke(app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")], terminal_width=200)
    output = " ".join(done.output.split())
    assert done.exit_code == 1, output
    assert "the runs measured different cases (cases: 40 → 20)" in output
    assert "failing now, passed before (1): c: 'text of c' got escalate, expected reply" in output
    assert "passing now, failed before (1): a" in output
    same = runner.invoke(app, ["eval", "compare", str(tmp_path / "b"), str(tmp_path / "b")])
    assert "the same cases fail in both" in same.output and "different cases" not in same.output


def test_run_reports_a_malformed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: [{id: a}]\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "run", "--suite", "keywords", "--data", str(bad)])
    assert result.exit_code == 2 and "case a" in result.output


def test_a_run_is_published_where_every_host_reads_it(
    runtime: Settings, app_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports were read from the API host's own data directory: a run on another host never reached the QA page."""
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "another-host"))  # same database, another disk
    get_settings.cache_clear()
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "a", "text": "STOP", "expect": {"decision": "opt_out"}}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "run", "--suite", "keywords", "--data", str(cases)])
    assert result.exit_code == 0, result.output
    assert "published to the QA page as keywords/" in result.output
    listed = app_client.get("/api/v1/eval/reports", headers=auth_headers("analyst")).json()
    assert [r["suite"] for r in listed] == ["keywords"] and listed[0]["summary"]["opt_out_recall"] == 1.0
    page = app_client.get(f"/api/v1/eval/reports/{listed[0]['id']}/html", headers=auth_headers("analyst"))
    assert page.status_code == 200 and "Evaluation: keywords" in page.text
    assert not (runtime.data_dir / "reports").exists()  # nothing on the API host's disk
    kept = runner.invoke(app, ["eval", "run", "--suite", "keywords", "--data", str(cases), "--no-publish"])
    assert kept.exit_code == 0 and "published to the QA page" not in kept.output
    assert len(app_client.get("/api/v1/eval/reports", headers=auth_headers("analyst")).json()) == 1
