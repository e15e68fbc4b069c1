"""The ``agent`` fixture: a runtime whose knowledge base holds part of the demo FAQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime import get_runtime, reset_runtime
from core.settings import Settings

FAQ = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere" / "knowledge" / "faq.csv"


@pytest.fixture
def agent(runtime: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The runtime's knowledge base holds the demo FAQ's shipping and payment entries (no intent
    model: retrieval decides)."""
    lines = FAQ.read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.endswith((",shipping", ",payment"))]
    subset = tmp_path / "faq.csv"
    subset.write_text("\n".join(kept) + "\n", encoding="utf-8")
    get_runtime(runtime).knowledge.ingest_path(subset, kb="default")
    yield runtime
    reset_runtime()
