"""The CLINC150 and BANKING77 runners on small files in the data sets' own formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.intent.store import IntentModelStore
from core.settings import Settings
from eval.intent_suites import banking77, run_clinc
from eval.runner import RunOptions, SuiteSkipped

INTENTS = {
    "balance": ["what is my account balance", "how much money do I have", "show my balance",
                "check my balance please", "balance of my checking account", "how much is in my account"],
    "weather": ["what is the weather today", "will it rain tomorrow", "is it sunny outside",
                "weather forecast for paris", "how cold is it today", "do I need an umbrella"],
    "alarm": ["set an alarm for 7am", "wake me up at six", "create an alarm for tomorrow morning",
              "alarm at 8 please", "set my alarm", "remind me to wake up at 5"],
}
OOS = ["who painted the mona lisa", "tell me a joke about cats", "what is the capital of peru",
       "how tall is mount everest", "recommend a good novel", "what is quantum physics"]


def write_clinc(path: Path, splits: dict[str, list[list[str]]]) -> Path:
    path.write_text(json.dumps(splits), encoding="utf-8")
    return path


def test_clinc_trains_on_train_and_scores_other_splits(tmp_path: Path) -> None:
    train = write_clinc(tmp_path / "train.json", {
        "train": [[t, name] for name, texts in INTENTS.items() for t in texts],
        "oos_train": [[t, "oos"] for t in OOS],
    })
    test = write_clinc(tmp_path / "test.json", {
        "test": [["what's my balance right now", "balance"], ["is it going to snow", "weather"],
                 ["set an alarm at noon", "alarm"]],
        "oos_test": [["who wrote hamlet", "oos"], ["what is the best pizza topping", "oos"]],
    })
    options = RunOptions(settings=Settings.model_validate({"data_dir": tmp_path / "data"}), data=test, train=train)
    report = run_clinc(options)
    assert set(report.summary) >= {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "latency_p95_ms"}
    assert report.summary["n"] == 5
    assert report.summary["in_scope_accuracy"] >= 2 / 3
    assert "test+oos_test" in report.data
    assert report.confusion is not None and sum(sum(row) for row in report.confusion["matrix"]) == 5
    cached = list((tmp_path / "data" / "eval" / "models").iterdir())
    assert len(cached) == 1  # the model is kept for the next run
    again = run_clinc(options)
    assert again.summary["accuracy"] == report.summary["accuracy"]  # deterministic


def test_clinc_without_evaluation_splits_or_data(tmp_path: Path) -> None:
    train = write_clinc(tmp_path / "train.json", {"train": [["hi", "greet"]], "oos_train": []})
    with pytest.raises(SuiteSkipped, match="only training splits"):
        run_clinc(RunOptions(settings=Settings.model_validate({"data_dir": tmp_path}), data=train, train=train))
    with pytest.raises(SuiteSkipped, match="not found"):
        run_clinc(RunOptions(settings=Settings.model_validate({"data_dir": tmp_path}), train=tmp_path / "missing.json"))


def test_banking_evaluates_another_csv(tmp_path: Path) -> None:
    rows = ["text,category"] + [f'"{t}",{name}' for name, texts in INTENTS.items() for t in texts]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("text,category\nhow much cash do I have,balance\nrain later?,weather\n",
                                       encoding="utf-8")
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = banking77(RunOptions(settings=settings, data=tmp_path / "test.csv", train=tmp_path / "train.csv"))
    assert report.summary["n"] == 2
    assert {"accuracy", "accuracy_10_per_intent", "accuracy_with_rejection"} <= set(report.summary)
    assert "(10 per intent: minilm-tuned+use-multilingual)" in report.data
    models = tmp_path / "data" / "eval" / "models"
    [few_shot] = models.glob("*-10pi-minilm-tuned+use-multilingual-*")  # the store keeps the tuned encoder
    assert IntentModelStore(few_shot).load().encoder is not None
