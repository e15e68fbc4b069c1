"""Top-N product recommendations per customer: their own history, what co-buyers bought, popularity.

A customer's score for a product is their own recency-weighted purchases of it, plus ``co_weight``
times its item-item co-purchase similarity (cosine over customers) to what they bought, plus
``popularity_weight`` times its recent share of buyers. ``fit`` chooses the half-life and the two
weights by ``hit_at_10`` on the last window whose outcome is known, then learns the similarity
and popularity from everything before the cutoff. Scoring runs in batches of customers so a
100,000-contact deployment never holds a dense customers × products matrix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from intelligence.features import DAY, outcomes
from intelligence.model_bytes import StoredModel
from intelligence.propensity import DEFAULT_HORIZON_DAYS

TOP_N = 10
BATCH = 4096
POPULAR_DAYS = 90
HALF_LIVES_DAYS: tuple[float | None, ...] = (None, 180.0, 60.0)
CO_WEIGHTS = (0.0, 0.05, 0.2, 0.5)
POPULARITY_WEIGHTS = (0.0, 0.02, 0.1)


def _lines(frame: pd.DataFrame, at: pd.Timestamp, excluded: frozenset[str]) -> pd.DataFrame:
    lines = frame[(frame["ordered_at"] < at) & (frame["quantity"] > 0)]
    return lines[~lines["product_id"].isin(excluded)] if excluded else lines


def _weighted(lines: pd.DataFrame, at: pd.Timestamp, half_life: float | None) -> pd.Series:
    """Per (customer, product): the orders holding it, each weighted by its age (None: weight 1)."""
    per_order = lines.drop_duplicates(["customer_id", "order_id", "product_id"])
    age = ((at - per_order["ordered_at"]) / DAY).to_numpy()
    weight = np.ones(len(per_order)) if half_life is None else np.power(0.5, age / half_life)
    return pd.Series(weight, index=pd.MultiIndex.from_frame(per_order[["customer_id", "product_id"]])).groupby(
        level=[0, 1]).sum()


@dataclass
class RecommendModel(StoredModel):
    """Recommends :data:`TOP_N` products per customer; ``excluded`` products are never recommended
    (postage, fees: Online Retail's non-merchandise codes, see ``retail_data.NON_MERCHANDISE``)."""

    horizon_days: int = DEFAULT_HORIZON_DAYS
    excluded: frozenset[str] = frozenset()
    half_life_days: float | None = None
    co_weight: float = 0.0
    popularity_weight: float = 0.0
    validation: dict[str, float] = field(default_factory=dict)
    products: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object), repr=False)
    similarity: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32), repr=False)
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> RecommendModel:
        """Choose the half-life and weights on the window before ``cutoff``, then learn from all of it.

        Raises ``ValueError`` when no product was bought before ``cutoff``.
        """
        cutoff = pd.Timestamp(cutoff)
        start = cutoff - pd.Timedelta(days=self.horizon_days)
        truth = bought_products(frame, start, cutoff)
        scores: dict[tuple[float | None, float, float], float] = {}
        if truth:
            base = RecommendModel(self.horizon_days, self.excluded).learn(frame, start)
            for half_life in HALF_LIVES_DAYS:
                base.half_life_days = half_life
                names, own = base._own(frame, start, truth)
                for co, popular in itertools.product(CO_WEIGHTS, POPULARITY_WEIGHTS):
                    base.co_weight, base.popularity_weight = co, popular
                    hit = hit_at(base._rank(names, own, TOP_N), truth)
                    if hit is not None:
                        scores[(half_life, co, popular)] = hit
        if scores:
            (self.half_life_days, self.co_weight, self.popularity_weight), best = max(
                scores.items(), key=lambda item: item[1])
            self.validation = {"hit_at_10": best, "own_history_only": scores.get((None, 0.0, 0.0), 0.0)}
        return self.learn(frame, cutoff)

    def learn(self, frame: pd.DataFrame, at: pd.Timestamp) -> RecommendModel:
        """Learn the similarity and popularity from the lines before ``at`` with the current weights
        (no choosing; the defaults give the own-history top 10). Raises ``ValueError`` without lines."""
        lines = _lines(frame, at, self.excluded)
        if lines.empty:
            raise ValueError("no product bought before the cutoff: nothing to recommend from")
        bought = lines[["customer_id", "product_id"]].drop_duplicates()
        self.products = np.sort(bought["product_id"].unique()).astype(object)
        column = np.searchsorted(self.products, bought["product_id"].to_numpy())
        row = bought["customer_id"].astype("category").cat.codes.to_numpy()
        matrix = sp.csr_matrix((np.ones(len(bought), dtype=np.float32), (row, column)),
                               shape=(row.max() + 1, len(self.products)))
        co = (matrix.T @ matrix).toarray()
        norms = np.sqrt(np.diag(co))
        similarity = co / np.outer(norms, norms)
        np.fill_diagonal(similarity, 0.0)  # the own-history term already counts the product itself
        self.similarity = similarity.astype(np.float32)
        recent = lines[lines["ordered_at"] >= at - pd.Timedelta(days=POPULAR_DAYS)]
        buyers = recent.groupby("product_id")["customer_id"].nunique()
        share = buyers.reindex(self.products).fillna(0.0) / max(1, recent["customer_id"].nunique())
        self.popularity = share.to_numpy()
        return self

    def recommend(self, frame: pd.DataFrame, at: pd.Timestamp, customers: Iterable[str] | None = None,
                  top_n: int = TOP_N) -> dict[str, list[str]]:
        """Product ids, best first, for each customer with a purchase before ``at`` (or those of
        ``customers`` among them). Raises ``RuntimeError`` before :meth:`fit`."""
        if not len(self.products):
            raise RuntimeError("fit the model first")
        names, own = self._own(frame, pd.Timestamp(at), customers)
        return self._rank(names, own, top_n)

    def _own(self, frame: pd.DataFrame, at: pd.Timestamp,
             customers: Iterable[str] | None) -> tuple[pd.Index, sp.csr_matrix]:
        """Customers and their own recency-weighted purchases per product, each row's best = 1."""
        lines = _lines(frame, at, self.excluded)
        if customers is not None:
            lines = lines[lines["customer_id"].isin(set(customers))]
        weights = _weighted(lines, at, self.half_life_days)
        weights = weights[weights.index.get_level_values(1).isin(set(self.products))]  # products met since fit
        names = weights.index.get_level_values(0).astype("category")
        column = np.searchsorted(self.products, weights.index.get_level_values(1).to_numpy())
        own = sp.csr_matrix((weights.to_numpy(dtype=np.float32), (names.codes, column)),
                            shape=(len(names.categories), len(self.products)))
        scale = 1.0 / np.maximum(own.max(axis=1).toarray().ravel(), 1e-9)
        return pd.Index(names.categories), sp.csr_matrix(sp.diags(scale) @ own)

    def _rank(self, names: pd.Index, own: sp.csr_matrix, top_n: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, own.shape[0], BATCH):
            block = own[start:start + BATCH]
            score = block.toarray() + self.popularity_weight * self.popularity[None, :]
            if self.co_weight:
                co = block @ self.similarity
                score += self.co_weight * co / np.maximum(co.max(axis=1, keepdims=True), 1e-9)
            top = np.argpartition(-score, min(top_n, score.shape[1] - 1), axis=1)[:, :top_n]
            order = np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, axis=1), axis=1), axis=1)
            for name, picks in zip(names[start:start + BATCH], order, strict=True):
                out[str(name)] = self.products[picks].tolist()
        return out


def bought_products(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, set[str]]:
    """The products each existing customer (a purchase before ``start``) bought in kept orders of
    ``[start, end)``: the truth ``hit_at_10`` checks."""
    kept = outcomes(frame, start, end).index
    existing = frame.loc[(frame["ordered_at"] < start) & (frame["quantity"] > 0), "customer_id"].unique()
    window = frame[(frame["ordered_at"] >= start) & (frame["ordered_at"] < end) & (frame["quantity"] > 0)]
    window = window[window["customer_id"].isin(kept) & window["customer_id"].isin(existing)]
    return {str(c): set(g) for c, g in window.groupby("customer_id")["product_id"]}


def most_popular(frame: pd.DataFrame, at: pd.Timestamp, top_n: int = TOP_N) -> list[str]:
    """The products most customers bought before ``at``: the same list for everyone (a baseline)."""
    lines = frame[(frame["ordered_at"] < at) & (frame["quantity"] > 0)]
    return lines.groupby("product_id")["customer_id"].nunique().nlargest(top_n).index.astype(str).tolist()


def hit_at(recommended: dict[str, list[str]], truth: dict[str, set[str]]) -> float | None:
    """Share of the ``truth`` customers who bought at least one recommended product (no
    recommendation: a miss); None (n/a) when ``truth`` is empty."""
    if not truth:
        return None
    return sum(bool(bought.intersection(recommended.get(c, ()))) for c, bought in truth.items()) / len(truth)
