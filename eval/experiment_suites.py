"""Suites of the experiment models: ``uplift`` and ``bandit`` (Hillstrom files), ``response`` (Bank Marketing).

``--train`` defaults to the shared training file. Without ``--data`` the figures are measured on
a seeded random part of the training file carved for reporting (:data:`REPORT_SEED`; a third of
Hillstrom, a fifth of Bank Marketing) that no model fits or chooses on; the report's ``data``
line says which. Every choice (learner, tree shape, bandit settings) is made on the training
part only, and each headline figure sits beside its baselines computed in the same run.
``--limit N`` keeps the first N rows of both the training and the measured part (smoke runs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.paths import shared_data_dir
from eval.report import Report
from eval.runner import RunOptions, SuiteSkipped, register
from intelligence import replay as replays
from intelligence import response as responses
from intelligence import uplift as uplifts
from intelligence.bandit import ContextualThompson, Policy, ThompsonPolicy
from intelligence.experiment_data import Experiment, Responses, load_bank, load_hillstrom, one_hot, split_rows

REPORT_SEED = 20261129
SEEDS = (0, 1, 2, 3, 4)
TOP = 0.3


def _paths(options: RunOptions, folder: str, name: str) -> tuple[Path, Path | None]:
    train = options.train or shared_data_dir() / folder / name
    if not train.is_file():
        raise SuiteSkipped(f"training file not found at {train} (set RELAIS_SHARED_DATA or pass --train)")
    if options.data is not None and not options.data.is_file():
        raise SuiteSkipped(f"data file not found at {options.data}")
    return train, options.data


def _described(train: Path, data: Path | None, share: str) -> str:
    if data is not None:
        return f"trained on {train}; measured on {data}"
    return f"trained on {train} minus {share} of its rows (seed {REPORT_SEED}); measured on that {share}, carved " \
           "for reporting: no model fitted or chose on it"


def _experiments(options: RunOptions) -> tuple[Experiment, Experiment, str]:
    train, data = _paths(options, "hillstrom", "train.csv")
    logged = load_hillstrom(train)
    if data is not None:
        fit_on, measured = logged, load_hillstrom(data)
    else:
        fit_rows, report_rows = split_rows(len(logged), 1 / 3, REPORT_SEED)
        fit_on, measured = logged.take(fit_rows), logged.take(report_rows)
    if options.limit is not None:
        fit_on, measured = fit_on.take(np.arange(min(options.limit, len(fit_on)))), \
            measured.take(np.arange(min(options.limit, len(measured))))
    return fit_on, measured, _described(train, data, "a third")


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4),
            "min": round(float(np.min(values)), 4), "max": round(float(np.max(values)), 4)}


@register("uplift")
def uplift(options: RunOptions) -> Report:
    fit_on, measured, described = _experiments(options)
    options.progress.start("uplift: choosing the learner out of fold, then fitting 5 seeds", 2 + len(SEEDS))
    # arms, not a treated flag: arms_lr models the men's and women's e-mails apart; the rest pool them
    choice = uplifts.choose(fit_on.features, fit_on.arms, fit_on.outcome, share=TOP)
    options.progress.advance(2)

    def measure(scores: np.ndarray, share: float = TOP) -> float | None:
        return uplifts.uplift_at_top(scores, measured.treated, measured.outcome, share)

    by_seed: list[float] = []
    curve: dict[str, float] = {}
    interval: tuple[float | None, float | None] = (None, None)
    for seed in SEEDS:
        model = uplifts.UpliftModel(choice.method, choice.params, seed=seed)
        scores = model.fit(fit_on.features, fit_on.arms, fit_on.outcome).predict(measured.features)
        by_seed.append(measure(scores) or 0.0)
        if seed == SEEDS[0]:
            curve = {f"top {p} %": round(measure(scores, p / 100) or 0.0, 4) for p in (10, 20, 30, 50, 70, 100)}
            interval = _bootstrap(scores, measured)
        options.progress.advance()
    baseline = uplifts.UpliftModel("two_model_lr").fit(fit_on.features, fit_on.treated, fit_on.outcome)
    rng = np.random.default_rng(REPORT_SEED)
    random_figures = [measure(rng.random(len(measured))) or 0.0 for _ in range(50)]
    chosen = uplifts.candidate_name(choice.method, choice.params)
    summary: dict[str, float | int | None] = {
        "uplift_top30": round(float(np.mean(by_seed)), 4),
        "uplift_top30_random": round(float(np.mean(random_figures)), 4),
        "uplift_top30_two_model_lr": _round(measure(baseline.predict(measured.features))),
        "uplift_top30_seed_std": round(float(np.std(by_seed)), 4),
        "uplift_top30_ci90_low": interval[0],
        "uplift_top30_ci90_high": interval[1],
        "uplift_all": _round(measure(np.zeros(len(measured)), 1.0)),
        "n": len(measured),
    }
    return Report(
        suite="uplift", summary=summary, data=described,
        metrics={"chosen": chosen, "validation_uplift_top30": choice.validation,
                 "validation_noise": choice.noise, "by_seed": _spread(by_seed),
                 "random_spread": _spread(random_figures), "uplift_curve_seed0": curve,
                 "definition": "among the 30 % ranked highest: visit rate of those e-mailed minus the rate of the "
                               "no-e-mail control; uplift_top30 is the mean over 5 training seeds; ci90: 200 "
                               "bootstrap resamples of the measured rows, seed 0's scores"},
        charts={"Uplift among the top x % (seed 0)": curve,
                "Validation uplift_top30 by learner": {k: v or 0.0 for k, v in choice.validation.items()}},
        choices={f"learner {chosen}": "repeated 5-fold out-of-fold uplift_top30 on the training part only; the "
                                      "first candidate (two_model_lr) stays unless another leads it by more than "
                                      f"the figure's noise ({choice.noise})"},
    )


def _bootstrap(scores: np.ndarray, measured: Experiment, draws: int = 200) -> tuple[float | None, float | None]:
    """90 % bootstrap interval of the top-30 % uplift of fixed ``scores``: how much the measured rows alone sway it."""
    rng = np.random.default_rng(REPORT_SEED)
    figures = []
    for _ in range(draws):
        rows = rng.integers(0, len(scores), size=len(scores))
        value = uplifts.uplift_at_top(scores[rows], measured.treated[rows], measured.outcome[rows], TOP)
        if value is not None:
            figures.append(value)
    if not figures:
        return (None, None)
    return round(float(np.percentile(figures, 5)), 4), round(float(np.percentile(figures, 95)), 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@register("bandit")
def bandit(options: RunOptions) -> Report:
    fit_on, measured, described = _experiments(options)
    n_arms = len(measured.arm_names)
    options.progress.start("bandit: choosing cold and warm settings on the training part, then 5 replays",
                           2 + len(SEEDS))
    (keys, prior), validation = replays.choose_contextual(fit_on)
    options.progress.advance()
    (warm_keys, warm_prior), warm_validation = replays.choose_contextual(fit_on, warm=True)
    options.progress.advance()
    test_sends = round(0.2 * len(measured) / n_arms)  # a test on 20 % of the audience, a third of it counted
    policies: dict[str, Callable[[], Policy]] = {
        "contextual": lambda: ContextualThompson(n_arms, keys, prior),
        "thompson": lambda: ThompsonPolicy(n_arms),
        "ab_commit": lambda: replays.ABThenCommit(n_arms, test_sends),
        "contextual_control10": lambda: replays.WithControl(
            n_arms, ContextualThompson(n_arms - 1, keys, prior), control=0, share=0.1),
        "warm_contextual": lambda: replays.warm_policy(warm_keys, warm_prior, fit_on),
    }
    rates: dict[str, list[float]] = {name: [] for name in policies}
    matched: list[int] = []
    for seed in SEEDS:
        for name, make in policies.items():
            result = replays.replay(make(), measured, seed=seed)
            rates[name].append(result.rate or 0.0)
            if name == "contextual":
                matched.append(result.matched)
        options.progress.advance()
    arm_rates = replays.arm_rates(measured)
    best_arm = max(range(n_arms), key=lambda arm: arm_rates[arm] or -1.0)
    mean = {name: round(float(np.mean(values)), 4) for name, values in rates.items()}
    summary: dict[str, float | int | None] = {
        "replay_visit_rate": mean["contextual"],
        "replay_visit_rate_ab_commit": mean["ab_commit"],
        "replay_visit_rate_thompson": mean["thompson"],
        "replay_visit_rate_best_arm": _round(arm_rates[best_arm]),
        "replay_visit_rate_seed_std": round(float(np.std(rates["contextual"])), 4),
        "replay_visit_rate_control10": mean["contextual_control10"],
        "replay_visit_rate_warm": mean["warm_contextual"],
        "matched": int(np.mean(matched)),
        "n": len(measured),
    }
    chosen, warm_chosen = replays.contextual_name(keys, prior), replays.contextual_name(warm_keys, warm_prior)
    return Report(
        suite="bandit", summary=summary, data=described,
        metrics={"chosen": chosen, "validation_replay_rate": validation, "warm_chosen": warm_chosen,
                 "warm_validation_replay_rate": warm_validation,
                 "by_policy": {name: _spread(values) for name, values in rates.items()},
                 "arm_rates": dict(zip(measured.arm_names, arm_rates, strict=True)),
                 "best_arm": measured.arm_names[best_arm], "batch": 100, "ab_test_sends": test_sends,
                 "definition": "Li et al. 2011 replay from a cold start, updates every 100 counted rows; "
                               "replay_visit_rate is contextual Thompson's mean over 5 seeds; _control10 keeps "
                               "10 % on the no-e-mail control (the product's mode); _warm starts from the "
                               "training part's campaign (same arms)"},
        charts={"Replay visit rate by policy (mean of 5 seeds)": {**mean, "best arm": arm_rates[best_arm] or 0.0}},
        choices={f"cold policy: {chosen}": "cold replay on each half of the training part, 5 seeds each",
                 f"warm policy: {warm_chosen}": "started from one half of the training part, replayed on the other"},
    )


def _responses(options: RunOptions) -> tuple[Responses, Responses, str]:
    train, data = _paths(options, "bank_marketing", "train.csv")
    contacts = load_bank(train)
    if data is not None:
        fit_on, measured = contacts, load_bank(data)
    else:
        fit_rows, report_rows = split_rows(len(contacts), 0.2, REPORT_SEED)
        fit_on, measured = contacts.take(fit_rows), contacts.take(report_rows)
    if options.limit is not None:
        fit_on, measured = fit_on.take(np.arange(min(options.limit, len(fit_on)))), \
            measured.take(np.arange(min(options.limit, len(measured))))
    return fit_on, measured, _described(train, data, "a fifth")


def _auc(outcome: np.ndarray, scores: np.ndarray) -> float | None:
    return round(float(roc_auc_score(outcome, scores)), 4) if len(set(outcome.tolist())) == 2 else None


@register("response")
def response(options: RunOptions) -> Report:
    fit_on, measured, described = _responses(options)
    options.progress.start("response: choosing the tree shape on validation, then fitting and baselines", 4)
    choice = responses.choose(fit_on.features, fit_on.outcome)
    options.progress.advance()
    model = responses.ResponseModel(params=choice.params, seeds=SEEDS).fit(fit_on.features, fit_on.outcome)
    options.progress.advance()
    train_x = one_hot(fit_on.features)
    test_x = one_hot(measured.features, list(train_x.columns))
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train_x, fit_on.outcome)
    options.progress.advance()
    boosting = GradientBoostingClassifier(random_state=0).fit(train_x, fit_on.outcome)
    options.progress.advance()
    per_seed = [_auc(measured.outcome, booster) or 0.0 for booster in model.predict_each(measured.features)]
    summary: dict[str, float | int | None] = {
        "auc": _auc(measured.outcome, model.predict(measured.features)),
        "auc_logistic_regression": _auc(measured.outcome, logistic.predict_proba(test_x)[:, 1]),
        "auc_gradient_boosting": _auc(measured.outcome, boosting.predict_proba(test_x)[:, 1]),
        "auc_seed_std": round(float(np.std(per_seed)), 4),
        "positives": int(measured.outcome.sum()),
        "n": len(measured),
    }
    shape = " ".join(f"{k}={v}" for k, v in choice.params.items())
    return Report(
        suite="response", summary=summary, data=described + "; duration never read",
        metrics={"chosen": choice.params, "validation": choice.validation, "by_seed": _spread(per_seed),
                 "definition": f"ROC AUC of P(y = yes); auc averages {len(SEEDS)} LightGBM seeds"},
        charts={"AUC by model": {"LightGBM (chosen)": summary["auc"] or 0.0,
                                 "logistic regression": summary["auc_logistic_regression"] or 0.0,
                                 "gradient boosting": summary["auc_gradient_boosting"] or 0.0}},
        choices={f"LightGBM {shape}": "a seeded fifth of the training part (validation AUC, early stopping)"},
    )
