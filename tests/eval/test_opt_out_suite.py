"""The ``optout`` suite: natural-language opt-outs against harmless look-alikes with the built-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from eval.opt_out_suite import choose_direct_threshold, load_phrasings, optout
from eval.paths import SUITES_DIR
from eval.runner import RunOptions, SuiteSkipped


def test_the_shipped_phrasings_have_two_disjoint_splits_in_six_languages() -> None:
    path = SUITES_DIR / "opt_out_phrasings.yaml"
    choose, report = load_phrasings(path, "choose"), load_phrasings(path, "report")
    assert not {r.text.casefold() for r in choose} & {r.text.casefold() for r in report}
    for rows in (choose, report):
        assert {r.language for r in rows} == {"en", "fr", "es", "de", "it", "pt"}
        # 60 look-alikes of an opt-out and 12 urgency texts per split
        assert (sum(r.label == "harmless" for r in rows), sum(r.label == "opt_out" for r in rows)) == (72, 60)


def test_a_wrong_split_or_label_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("report:\n  en:\n    maybe: [stop it]\n", encoding="utf-8")
    with pytest.raises(SuiteSkipped, match="no split 'choose'"):
        load_phrasings(path, "choose")
    with pytest.raises(ValueError, match="label 'maybe'"):
        load_phrasings(path, "report")


def test_the_threshold_is_the_lowest_candidate_above_every_harmless_text() -> None:
    assert choose_direct_threshold(np.array([0.2, 0.982, 0.5])) == 0.99
    assert choose_direct_threshold(np.array([])) == 0.5


def test_no_harmless_look_alike_is_opted_out_on_the_report_split(runtime: Settings) -> None:
    report = optout(RunOptions(settings=runtime))
    summary = report.summary
    assert summary["false_opt_out_rate"] == 0.0 and summary["opt_out_precision"] == 1.0
    assert summary["opt_out_handled"] >= 0.95 and summary["opt_out_recall"] >= 0.75
    assert report.metrics["choice"]["in_use"] == 0.98
    assert all(f.expected == "opt_out" for f in report.failures)  # only opt-outs left unsubscribed
