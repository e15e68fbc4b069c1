"""``relais eval`` commands through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from eval.report import Report, write

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


def test_run_reports_a_malformed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: [{id: a}]\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "run", "--suite", "keywords", "--data", str(bad)])
    assert result.exit_code == 2 and "case a" in result.output
