"""Uplift targeting: text only the contacts the message is likely to change.

A response model ranks who will act; an uplift model ranks who will act *because of the
message*: ``P(visit | texted, x) - P(visit | not texted, x)``. It learns from a past campaign
that kept a random holdout control, so treated and control customers are alike but for the
message. Six learners are offered (Künzel et al. 2019; Jaskowski & Jaroszewicz 2012):

* ``two_model_lr``: one logistic regression on the treated, one on the control; the difference.
  The plain baseline.
* ``arms_lr``: one logistic regression per arm (the control and each message, e.g. Hillstrom's
  men's and women's e-mails); the uplift of "a message" is the messages' predictions averaged by
  their share of the treated, minus the control's. Each e-mail moves other customers, and pooling
  them into one treated group blurs that; with one message it is ``two_model_lr``.
* ``t_learner``: the same with LightGBM.
* ``s_learner``: one LightGBM classifier with the treatment as a feature; the uplift is its
  prediction treated minus its prediction untreated.
* ``class_transformation``: one LightGBM classifier of ``Z = 1`` when (treated and acted) or
  (control and did not), the groups weighted to equal size; uplift ``= 2 P(Z) - 1``.
* ``x_learner``: a T-learner, then each group's imputed effects (``y - mu_control(x)`` for the
  treated, ``mu_treated(x) - y`` for the control) regressed by LightGBM and blended by the
  treatment share.

``treated`` is an arm per customer: 0 for the holdout control, 1, 2, ... for each message (a
0/1 flag is one message); every learner but ``arms_lr`` pools the messages. The learner is chosen
by :func:`choose` out of fold on the training data (the figure: :func:`uplift_at_top`); on
Hillstrom the gaps between learners are within that figure's noise (docs/intelligence.md). Models pickle
(:meth:`UpliftModel.to_bytes`): store them where only Relais writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.experiment_data import one_hot
from intelligence.model_bytes import StoredModel

#: The S-learner's treatment column (a name no customer feature takes).
_TREATED = "__treated__"

METHODS: tuple[str, ...] = ("two_model_lr", "arms_lr", "t_learner", "s_learner", "class_transformation", "x_learner")
#: LightGBM settings shared by every learner: shallow trees, many rows per leaf (the effect is a few
#: points on a 10 % base rate; deeper trees fit noise: 6 leaves lost 0.5-1 point on validation).
BASE_PARAMS: dict[str, Any] = {
    "n_estimators": 150, "learning_rate": 0.03, "num_leaves": 3, "min_child_samples": 300,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 5.0, "verbose": -1,
    "n_jobs": 1,
}
#: What :func:`choose` tries.
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("two_model_lr", {}),
    ("arms_lr", {}),
    ("t_learner", {}),
    ("s_learner", {"n_estimators": 400}),
    ("class_transformation", {}),
    ("x_learner", {}),
)


def uplift_at_top(scores: np.ndarray, treated: np.ndarray, outcome: np.ndarray, share: float = 0.3) -> float | None:
    """Among the ``share`` of customers scored highest, outcome rate of the treated minus the control's.

    ``treated`` is 0 for the control and anything else for a message (an arm index will do). The
    customers are the ``ceil(share * n)`` highest ``scores`` (ties broken by position, so a
    constant score keeps the first rows: score randomly ordered data). ``None`` (n/a) when the top
    holds no treated or no control customer: nothing to compare.
    """
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[: int(np.ceil(share * len(scores)))]
    picked_treated, picked_outcome = np.asarray(treated)[top] != 0, np.asarray(outcome)[top]
    if picked_treated.all() or not picked_treated.any():
        return None
    return float(picked_outcome[picked_treated].mean() - picked_outcome[~picked_treated].mean())


@dataclass
class UpliftModel(StoredModel):
    """An uplift learner: :meth:`fit` on a past campaign, :meth:`predict` the uplift of new contacts.

    ``method`` is one of :data:`METHODS`; ``params`` override :data:`BASE_PARAMS`; ``seed`` makes
    LightGBM's row and column sampling repeatable.
    """

    method: str = "x_learner"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    columns: list[str] = field(default_factory=list)
    _parts: dict[str, Any] = field(default_factory=dict, repr=False)
    _treated_share: float = 0.5
    _arm_shares: dict[int, float] = field(default_factory=dict)  # each message's share of the treated

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown uplift method {self.method!r}; known: {', '.join(METHODS)}")

    def _lgb(self, kind: str) -> lgb.LGBMClassifier | lgb.LGBMRegressor:
        params = {**BASE_PARAMS, **self.params, "random_state": self.seed}
        return lgb.LGBMClassifier(**params) if kind == "classifier" else lgb.LGBMRegressor(**params)

    @property
    def _linear(self) -> bool:
        return self.method in ("two_model_lr", "arms_lr")

    def _matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        return one_hot(features, self.columns) if self._linear else features.loc[:, self.columns]

    def fit(self, features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray) -> UpliftModel:
        """Learn from a campaign: ``treated`` the arm of each customer (0 the holdout, 1, 2, ... a
        message; a 0/1 flag will do); ``outcome`` 0/1.

        Raises ``ValueError`` when the control or the treated (for ``arms_lr``: any arm) never (or
        always) acted.
        """
        arms, outcome = np.asarray(treated).astype(int), np.asarray(outcome).astype(int)
        treated = arms != 0
        groups = [("treated", treated), ("control", ~treated)]
        if self.method == "arms_lr":
            groups += [(f"arm {arm}", arms == arm) for arm in sorted(set(arms[treated]))]
        for name, group in groups:
            if len(set(outcome[group])) < 2:
                raise ValueError(f"the {name} group needs customers who acted and customers who did not")
        self._treated_share = float(treated.mean())
        self._arm_shares = {int(arm): float(np.mean(arms[treated] == arm)) for arm in sorted(set(arms[treated]))}
        self.columns = list(one_hot(features).columns) if self._linear else list(features.columns)
        x = self._matrix(features)
        if self.method == "two_model_lr":
            self._parts = {g: _logistic().fit(x[mask], outcome[mask]) for g, mask in (("t", treated), ("c", ~treated))}
        elif self.method == "arms_lr":
            self._parts = {f"arm {arm}": _logistic().fit(x[arms == arm], outcome[arms == arm])
                           for arm in (0, *self._arm_shares)}
        elif self.method == "s_learner":
            self._parts = {"s": self._lgb("classifier").fit(x.assign(**{_TREATED: treated.astype(int)}), outcome)}
        elif self.method == "class_transformation":
            z = np.where(treated, outcome, 1 - outcome)
            weight = np.where(treated, 0.5 / self._treated_share, 0.5 / (1 - self._treated_share))
            self._parts = {"z": self._lgb("classifier").fit(x, z, sample_weight=weight)}
        else:
            self._parts = {g: self._lgb("classifier").fit(x[mask], outcome[mask])
                           for g, mask in (("t", treated), ("c", ~treated))}
            if self.method == "x_learner":
                imputed_t = outcome[treated] - self._parts["c"].predict_proba(x[treated])[:, 1]
                imputed_c = self._parts["t"].predict_proba(x[~treated])[:, 1] - outcome[~treated]
                self._parts["tau_t"] = self._lgb("regressor").fit(x[treated], imputed_t)
                self._parts["tau_c"] = self._lgb("regressor").fit(x[~treated], imputed_c)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Estimated uplift of messaging each contact (a difference of probabilities, in [-1, 1])."""
        if not self._parts:
            raise RuntimeError("fit the uplift model before predicting")
        x = self._matrix(features)
        if self.method == "s_learner":
            model = self._parts["s"]
            return np.asarray(model.predict_proba(x.assign(**{_TREATED: 1}))[:, 1]
                              - model.predict_proba(x.assign(**{_TREATED: 0}))[:, 1])
        if self.method == "class_transformation":
            return np.asarray(2 * self._parts["z"].predict_proba(x)[:, 1] - 1)
        if self.method == "arms_lr":
            arm_rate = {arm: self._parts[f"arm {arm}"].predict_proba(x)[:, 1] for arm in (0, *self._arm_shares)}
            messaged = np.sum([share * arm_rate[arm] for arm, share in self._arm_shares.items()], axis=0)
            return np.asarray(messaged - arm_rate[0])
        if self.method == "x_learner":
            # the control's imputed effects are the better guide where the treated are many (Künzel et al.)
            share = self._treated_share
            return np.asarray(share * self._parts["tau_c"].predict(x) + (1 - share) * self._parts["tau_t"].predict(x))
        return np.asarray(self._parts["t"].predict_proba(x)[:, 1] - self._parts["c"].predict_proba(x)[:, 1])


def _logistic() -> Pipeline:
    """Logistic regression on standardised features; a missing value (a contact with no order before
    the campaign, in the product) takes the median and a flag of its own."""
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(),
                         LogisticRegression(max_iter=1000))


@dataclass(frozen=True)
class Choice:
    """The learner :func:`choose` kept, every candidate's validation figure (mean over repeats) and
    the noise a challenger had to beat the first candidate by."""

    method: str
    params: dict[str, Any]
    validation: dict[str, float | None]
    noise: float | None = None


def candidate_name(method: str, params: dict[str, Any]) -> str:
    """A readable name of a candidate (``t_learner num_leaves=4 min_child_samples=500``)."""
    return " ".join([method, *(f"{k}={v}" for k, v in sorted(params.items()))])


def top_noise(scores: np.ndarray, treated: np.ndarray, outcome: np.ndarray, share: float = 0.3) -> float | None:
    """Standard error of :func:`uplift_at_top` from the sampling of its two groups alone (binomial):
    how far the figure moves with the customers drawn, whatever the model. ``None`` when n/a."""
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[: int(np.ceil(share * len(scores)))]
    picked_treated, picked_outcome = np.asarray(treated)[top] != 0, np.asarray(outcome)[top]
    if picked_treated.all() or not picked_treated.any():
        return None
    rates = [(picked_outcome[group].mean(), group.sum()) for group in (picked_treated, ~picked_treated)]
    return float(np.sqrt(sum(rate * (1 - rate) / n for rate, n in rates)))


def choose(features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray, *, repeats: int = 2, folds: int = 5,
           share: float = 0.3, candidates: tuple[tuple[str, dict[str, Any]], ...] = CANDIDATES) -> Choice:
    """Keep the first candidate (the simplest) unless another beats it out of fold by more than the noise.

    Each of ``repeats`` seeded ``folds``-fold partitions of the data given scores every row by a
    model fitted without it, and the figure (:func:`uplift_at_top`) is taken on all rows at once: a
    validation set as large as the training data. Its noise (:func:`top_noise` of the first
    candidate's scores, ~0.8 point on 28,000 Hillstrom customers) is larger than the gaps between
    most learners, so picking the highest figure would pick noise: the candidate with the best mean
    replaces the first only when it leads it by more than that. ``treated``: arms as
    :meth:`UpliftModel.fit` takes them. Only training data comes in; the reported figure is
    measured elsewhere.
    """
    treated, outcome = np.asarray(treated), np.asarray(outcome)
    names = [candidate_name(m, p) for m, p in candidates]
    figures: dict[str, list[float]] = {name: [] for name in names}
    noises: list[float] = []
    for repeat in range(repeats):
        parts = KFold(folds, shuffle=True, random_state=repeat).split(features)
        scores = {name: np.zeros(len(outcome)) for name in figures}
        for fit_rows, check_rows in parts:
            for (method, params), name in zip(candidates, names, strict=True):
                model = UpliftModel(method, params, seed=repeat).fit(
                    features.iloc[fit_rows], treated[fit_rows], outcome[fit_rows])
                scores[name][check_rows] = model.predict(features.iloc[check_rows])
        for name, values in scores.items():
            value = uplift_at_top(values, treated, outcome, share)
            if value is not None:
                figures[name].append(value)
        noise = top_noise(scores[names[0]], treated, outcome, share)
        if noise is not None:
            noises.append(noise)
    validation = {name: (round(float(np.mean(v)), 4) if v else None) for name, v in figures.items()}
    margin = round(float(np.mean(noises)), 4) if noises else None
    leader = max(range(len(candidates)), key=lambda i: validation[names[i]] or -np.inf)
    first, best = validation[names[0]], validation[names[leader]]
    kept = leader if first is None or (best is not None and margin is not None and best - first > margin) else 0
    return Choice(candidates[kept][0], dict(candidates[kept][1]), validation, margin)
