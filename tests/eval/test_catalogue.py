"""The catalogue the QA page reads without importing the runners names exactly the suites the runners register."""

from __future__ import annotations

from eval import catalogue
from eval.runner import suites


def test_every_registered_suite_is_described_and_every_described_suite_runs() -> None:
    assert suites() == catalogue.DESCRIPTIONS
