"""UMSAB loader on small data sets written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets.umsab import UmsabRow, load_umsab


def write_split(root: Path, folder: str, split: str, texts: list[str], labels: list[str]) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    (root / folder / f"{split}_labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")


def test_round_trip_any_split(tmp_path: Path) -> None:
    write_split(tmp_path, "french", "test", ["Merci beaucoup 😊", "C'est nul\u2028vraiment"], ["2", "0"])
    write_split(tmp_path, "german", "test", ["Wann öffnen Sie?"], ["1"])
    rows = load_umsab(tmp_path, "test", languages=["de", "french"])
    assert rows == [
        UmsabRow(text="Wann öffnen Sie?", label=1, language="de"),
        UmsabRow(text="Merci beaucoup 😊", label=2, language="fr"),
        UmsabRow(text="C'est nul\u2028vraiment", label=0, language="fr"),
    ]


def test_json_escapes_are_decoded(tmp_path: Path) -> None:
    write_split(tmp_path, "english", "train", [r"I\u2019m late\u002c sorry"], ["0"])
    assert load_umsab(tmp_path, "train", languages=["en"])[0].text == "I’m late, sorry"


def test_all_languages_by_default(tmp_path: Path) -> None:
    for folder in ("english", "french", "german", "italian", "portuguese", "spanish"):
        write_split(tmp_path, folder, "val", [f"hello {folder}"], ["1"])
    rows = load_umsab(tmp_path, "val")
    assert [r.language for r in rows] == ["en", "fr", "es", "de", "it", "pt"]


def test_missing_split(tmp_path: Path) -> None:
    write_split(tmp_path, "english", "train", ["a"], ["0"])
    with pytest.raises(FileNotFoundError, match="val"):
        load_umsab(tmp_path, "val", languages=["en"])


def test_mismatched_counts_and_bad_labels(tmp_path: Path) -> None:
    write_split(tmp_path, "english", "train", ["a", "b"], ["0"])
    with pytest.raises(ValueError, match="lines"):
        load_umsab(tmp_path, "train", languages=["en"])
    write_split(tmp_path, "english", "train", ["a", "b"], ["0", "positive"])
    with pytest.raises(ValueError, match="not 0, 1 or 2"):
        load_umsab(tmp_path, "train", languages=["en"])


def test_unknown_language(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown UMSAB language"):
        load_umsab(tmp_path, "train", languages=["nl"])
