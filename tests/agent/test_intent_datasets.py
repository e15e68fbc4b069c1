"""CLINC150 and BANKING77 loaders on small files in the data sets' own formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets.banking77 import BankingRow, carve_validation, few_shot, load_banking77
from eval.datasets.clinc150 import ClincRow, DatasetFormatError, load_clinc150


def test_clinc_reads_whatever_splits_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "test.json"
    data = {
        "test": [["what's my balance", "balance"], ["book a flight", "book_flight"]],
        "oos_test": [["who is ada", "oos"]],
    }
    path.write_text(json.dumps(data))
    splits = load_clinc150(path)
    assert list(splits) == ["test", "oos_test"]
    assert splits["test"][0] == ClincRow("what's my balance", "balance", "test")
    assert splits["oos_test"][0].is_oos and splits["oos_test"][0].intent is None
    assert list(load_clinc150(path, splits=["oos_test"])) == ["oos_test"]
    with pytest.raises(DatasetFormatError, match=r"no split\(s\) \['val'\]"):
        load_clinc150(path, splits=["val"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "expected an object"),
        ('{"train": [["text only"]]}', r"train\[0\] is not a \[text, intent\] pair"),
        ('{"train": {"a": 1}}', "split 'train' is not a list"),
        ("{not json", "not valid JSON"),
    ],
)
def test_clinc_format_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DatasetFormatError, match=message):
        load_clinc150(path)


def write_banking(tmp_path: Path, per_category: int) -> Path:
    lines = ["text,category"]
    for category in ("card_arrival", "Refund_not_showing_up", "top_up_failed"):
        lines += [f'"query {i}, about {category}",{category}' for i in range(per_category)]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_banking_loads_and_carves_a_deterministic_stratified_split(tmp_path: Path) -> None:
    rows = load_banking77(write_banking(tmp_path, 20))
    assert len(rows) == 60 and rows[0] == BankingRow("query 0, about card_arrival", "card_arrival")
    train, val = carve_validation(rows, fraction=0.1)
    assert len(val) == 6 and len(train) == 54 and not set(train) & set(val)
    assert sorted(r.category for r in val) == sorted(["card_arrival", "Refund_not_showing_up", "top_up_failed"] * 2)
    assert carve_validation(list(reversed(rows)), fraction=0.1)[1] == val  # order of the file does not matter
    assert carve_validation(rows, fraction=0.1, seed=14)[1] != val
    subset = few_shot(train, 5)
    assert len(subset) == 15 and set(subset) <= set(train) and few_shot(train, 5) == subset


def test_banking_rejects_another_format(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("sentence,label\nhello,greet\n")
    with pytest.raises(DatasetFormatError, match="text,category"):
        load_banking77(path)
    path.write_text("text,category\n,card_arrival\n")
    with pytest.raises(DatasetFormatError, match="line 2"):
        load_banking77(path)
