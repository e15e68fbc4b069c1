"""The ``agent`` fixtures: a runtime whose knowledge base holds part of the demo FAQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime import get_runtime, reset_runtime
from core.settings import Settings

FAQ = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere" / "knowledge" / "faq.csv"


def load_faq_subset(settings: Settings, folder: Path, tags: tuple[str, ...] = ("shipping", "payment")) -> None:
    """Ingest the demo FAQ's entries tagged ``tags`` into the runtime's knowledge base."""
    lines = FAQ.read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.endswith(tuple(f",{tag}" for tag in tags))]
    subset = folder / "faq.csv"
    subset.write_text("\n".join(kept) + "\n", encoding="utf-8")
    get_runtime(settings).knowledge.ingest_path(subset, kb="default")


@pytest.fixture
def agent(runtime: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The runtime's knowledge base holds the demo FAQ's shipping and payment entries (no intent
    model: retrieval decides)."""
    load_faq_subset(runtime, tmp_path)
    yield runtime
    reset_runtime()


@pytest.fixture
def agent_any_db(runtime_any_db: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Like ``agent``, once on SQLite and once on PostgreSQL."""
    load_faq_subset(runtime_any_db, tmp_path)
    yield runtime_any_db
    reset_runtime()
