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

from intelligence.features import DAY, before, outcomes
from intelligence.model_bytes import StoredModel
from intelligence.propensity import DEFAULT_HORIZON_DAYS, SEED

TOP_N = 10
BATCH = 4096
POPULAR_DAYS = 90
NEIGHBOURS = 20  # co-purchase neighbours kept per product: scoring stays sparse
CHOOSING_CUSTOMERS = 20_000  # customers judged per setting while choosing (a large deployment samples)
HALF_LIVES_DAYS: tuple[float | None, ...] = (None, 180.0, 60.0)
CO_WEIGHTS = (0.0, 0.05, 0.2, 0.5)
POPULARITY_WEIGHTS = (0.0, 0.02, 0.1)


def _lines(frame: pd.DataFrame, at: pd.Timestamp, excluded: frozenset[str]) -> pd.DataFrame:
    lines = before(frame, at)
    lines = lines[(lines["quantity"] > 0).to_numpy() & ~lines["product_id"].isin(excluded).to_numpy()]
    return lines


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
    similarity: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32), repr=False)
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> RecommendModel:
        """Choose the half-life and weights on the window before ``cutoff``, then learn from all of it.

        Raises ``ValueError`` when no product was bought before ``cutoff``.
        """
        cutoff = pd.Timestamp(cutoff)
        start = cutoff - pd.Timedelta(days=self.horizon_days)
        truth = bought_products(frame, start, cutoff)
        scores: dict[tuple[float | None, float, float], float] = {}
        if len(truth) > CHOOSING_CUSTOMERS:  # a seeded sample decides as well, in a fraction of the time
            kept = np.random.default_rng(SEED).choice(sorted(truth), size=CHOOSING_CUSTOMERS, replace=False)
            truth = {customer: truth[customer] for customer in kept}
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
        product, products = pd.factorize(lines["product_id"], sort=True)
        self.products = np.asarray(products, dtype=object)
        customer, customers = pd.factorize(lines["customer_id"])
        matrix = sp.csr_matrix((np.ones(len(lines), dtype=np.float32), (customer, product)),
                               shape=(len(customers), len(products)))
        matrix.data[:] = 1.0  # bought at all, however often: duplicates were summed
        co = (matrix.T @ matrix).toarray()
        norms = np.sqrt(np.diag(co))
        similarity = co / np.maximum(np.outer(norms, norms), 1e-9)
        np.fill_diagonal(similarity, 0.0)  # the own-history term already counts the product itself
        keep = min(NEIGHBOURS, len(products) - 1)
        if keep > 0:
            weakest = np.argpartition(-similarity, keep, axis=1)[:, keep:]
            np.put_along_axis(similarity, weakest, 0.0, axis=1)
        self.similarity = sp.csr_matrix(similarity.astype(np.float32))
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
        """Customers and their own purchases per product (orders holding it, each weighted by its
        age when a half-life is set), each row's best = 1. Works on integer codes: millions of lines."""
        lines = _lines(frame, at, self.excluded)
        if customers is not None:
            lines = lines[lines["customer_id"].isin(set(customers))]
        column = pd.Index(self.products).get_indexer(lines["product_id"])
        known = column >= 0  # products first met after the fit are not recommendable yet
        customer, names = pd.factorize(lines["customer_id"].to_numpy()[known])
        per_order = pd.DataFrame({
            "customer": customer, "order": pd.factorize(lines["order_id"].to_numpy()[known])[0],
            "product": column[known], "ordered_at": lines["ordered_at"].to_numpy()[known],
        }).drop_duplicates(["customer", "order", "product"])
        weight = np.ones(len(per_order), dtype=np.float32)
        if self.half_life_days is not None:
            age = ((at - per_order["ordered_at"]) / DAY).to_numpy()
            weight = np.power(0.5, age / self.half_life_days).astype(np.float32)
        own = sp.csr_matrix((weight, (per_order["customer"], per_order["product"])),
                            shape=(len(names), len(self.products)))
        scale = 1.0 / np.maximum(own.max(axis=1).toarray().ravel(), 1e-9)
        return pd.Index(names), sp.csr_matrix(sp.diags(scale) @ own)

    def _rank(self, names: pd.Index, own: sp.csr_matrix, top_n: int) -> dict[str, list[str]]:
        """Top ``top_n`` per row. Only a customer's own products, their co-purchase neighbours and
        the ``top_n`` most popular can make the list, so each block ranks those sparse candidates."""
        popular = np.argsort(-self.popularity, kind="stable")[:top_n]
        out: dict[str, list[str]] = {}
        for start in range(0, own.shape[0], BATCH):
            block = own[start:start + BATCH]
            candidates = block
            if self.co_weight:
                co = block @ self.similarity
                co = sp.diags(1.0 / np.maximum(co.max(axis=1).toarray().ravel(), 1e-9)) @ co
                candidates = block + self.co_weight * co
            entries = sp.coo_matrix(candidates)
            n = block.shape[0]
            rows = np.concatenate([entries.row, np.repeat(np.arange(n), len(popular))])
            cols = np.concatenate([entries.col, np.tile(popular, n)])
            score = np.concatenate([entries.data, np.zeros(n * len(popular))]) + (
                self.popularity_weight * self.popularity[cols])
            order = np.argsort(rows * (2.0 * score.max() + 2.0) - score, kind="stable")  # by row, best first
            rows, cols = rows[order], cols[order]
            first = np.zeros(len(rows), dtype=bool)  # a popular product also in the list: keep its best score
            first[np.unique(rows.astype(np.int64) * len(self.products) + cols, return_index=True)[1]] = True
            rows, cols = rows[first], cols[first]
            rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
            rows, cols = rows[rank < top_n], cols[rank < top_n]
            picks = np.split(self.products[cols], np.cumsum(np.bincount(rows, minlength=n))[:-1])
            for name, products in zip(names[start:start + BATCH], picks, strict=True):
                out[str(name)] = products.tolist()
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
