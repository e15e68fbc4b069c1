"""Per-customer features at a cutoff, and what each customer did in a window after it.

Every model of this package learns from the same matrix so the scheduled scoring job computes it
once per deployment: :func:`customer_features` sees only lines strictly before the cutoff (a
feature never leaks the future), :func:`outcomes` counts what happened in ``[start, end)`` (the
labels of a training cutoff, the truth of an evaluation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from intelligence.transactions import check

WINDOWS_DAYS: tuple[int, ...] = (30, 90, 180)
DAY = np.timedelta64(1, "D")
REGULAR_DAYS = 3  # purchase days that make a customer a regular, for the product-level shares
PRIOR_BUYERS = 20.0  # a product's share of regulars is shrunk toward the population's with this weight
PRODUCT_REGULARS = ("product_regulars_mean", "product_regulars_max", "product_regulars_weighted")


def before(frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """The lines strictly before ``at`` (the frame itself when all are: scoring copies nothing)."""
    mask = (frame["ordered_at"] < pd.Timestamp(at)).to_numpy()
    return frame if mask.all() else frame[mask]


def order_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, time, net value, lines, units, and whether it is a cancellation.

    A cancellation is an order whose lines have negative quantities (Online Retail's ``C`` invoices).
    Groups on integer codes, not the id strings: a 100,000-contact deployment has millions of lines.
    """
    frame = check(frame)
    customer, customers = pd.factorize(frame["customer_id"])
    order, order_ids = pd.factorize(frame["order_id"])
    lines = pd.DataFrame({
        "customer": customer, "order": order, "ordered_at": frame["ordered_at"].to_numpy(),
        "value": frame["quantity"].to_numpy() * frame["unit_price"].to_numpy(),
        "quantity": frame["quantity"].to_numpy(), "row": np.arange(len(frame)),
    })
    orders = lines.groupby(["customer", "order"], sort=False).agg(
        ordered_at=("ordered_at", "min"), value=("value", "sum"), lines=("value", "size"),
        units=("quantity", "sum"), row=("row", "max"),
    ).reset_index()
    return pd.DataFrame({
        "customer_id": customers[orders["customer"].to_numpy()],
        "order_id": order_ids[orders["order"].to_numpy()],
        "ordered_at": orders["ordered_at"].to_numpy(),
        "value": orders["value"].to_numpy(),
        "lines": orders["lines"].to_numpy(),
        "units": orders["units"].to_numpy(),
        "country": frame["country"].to_numpy()[orders["row"].to_numpy()],  # as on the order's last line
        "cancelled": orders["units"].to_numpy() < 0,
    })


def _gaps(purchases: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of the days between a customer's successive purchase days."""
    days = purchases[["customer_id", "ordered_at"]].assign(day=purchases["ordered_at"].dt.floor("D"))
    days = days.drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
    gap = days.groupby("customer_id", sort=False)["day"].diff() / DAY
    stats = gap.groupby(days["customer_id"]).agg(["mean", "std", "count"])
    stats.columns = ["gap_mean", "gap_std", "gaps"]
    return stats


def _product_breadth(bought: pd.DataFrame, purchase_days: pd.Series) -> pd.DataFrame:
    """Per customer: distinct products, and how often their products' other buyers are regulars.

    A regular has :data:`REGULAR_DAYS` purchase days or more (``purchase_days``, by customer). For
    each product, the share of regulars among its buyers *other than the customer* (the customer's
    own habit is in the other features), shrunk toward the population's share with the weight of
    :data:`PRIOR_BUYERS` buyers and divided by it, so 1 is average whatever the history's length;
    per customer its mean and maximum over their products and its mean weighted by their spend on
    each. Why: a wholesaler-like basket is shared with other regulars, a one-off gift with one-off
    buyers; the shares lifted the spend ranking's validation on every origin measured
    (docs/intelligence.md). Columns ``products``, ``product_regulars_mean``/``_max``/``_weighted``.
    """
    customer, customers = pd.factorize(bought["customer_id"])
    product, products = pd.factorize(bought["product_id"])
    pair, keys = pd.factorize(customer.astype(np.int64) * max(len(products), 1) + product)
    owner, item = keys // max(len(products), 1), keys % max(len(products), 1)
    spend = np.bincount(
        pair, weights=bought["quantity"].to_numpy() * bought["unit_price"].to_numpy(), minlength=len(keys)
    ).clip(min=0.0)
    regular = (purchase_days.reindex(customers).fillna(0).to_numpy() >= REGULAR_DAYS).astype(float)
    population = float(regular.mean()) if len(regular) else 0.0
    mine = regular[owner]
    others = np.bincount(item, weights=mine, minlength=len(products))[item] - mine
    buyers = np.bincount(item, minlength=len(products))[item] - 1.0
    share = (
        (others + PRIOR_BUYERS * population) / (buyers + PRIOR_BUYERS) / population
        if population > 0
        else np.ones(len(keys))  # nobody is a regular yet: no signal
    )
    count = np.bincount(owner, minlength=len(customers)).astype(float)
    weight = np.bincount(owner, weights=spend, minlength=len(customers))
    most = pd.Series(share).groupby(owner).max().reindex(range(len(customers))).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "products": count,
                "product_regulars_mean": np.bincount(owner, weights=share, minlength=len(customers)) / count,
                "product_regulars_max": most,
                "product_regulars_weighted": np.where(
                    weight > 0, np.bincount(owner, weights=share * spend, minlength=len(customers)) / weight, np.nan
                ),
            },
            index=customers,
        )


def customer_features(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Features of every customer with a purchase before ``cutoff``, indexed by ``customer_id``.

    Recency, frequency, spend and tenure; the days between purchases; orders and spend in the last
    30/90/180 days and their trend; basket size; the share of orders per part of the day and per
    weekday; the UK flag (Online Retail's home market, 90 % of customers); cancellations; how often
    the other buyers of the customer's products are regulars (:func:`_product_breadth`). Only lines
    strictly before ``cutoff`` count. Missing values are NaN (LightGBM handles them; the linear
    models impute).
    """
    cutoff = pd.Timestamp(cutoff)
    history = before(frame, cutoff)
    orders = order_table(history)
    purchases = orders[~orders["cancelled"]]
    if purchases.empty:
        return pd.DataFrame(columns=feature_names(), dtype=float).rename_axis("customer_id")
    age = (cutoff - purchases["ordered_at"]) / DAY
    purchases = purchases.assign(age=age.to_numpy())
    by = purchases.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "recency_days": by["age"].min(),
        "tenure_days": by["age"].max(),
        "orders": by.size().astype(float),
        "spend": by["value"].sum(),
        "order_value_mean": by["value"].mean(),
        "order_value_max": by["value"].max(),
        "lines_mean": by["lines"].mean(),
        "units_mean": by["units"].mean(),
    })
    out["orders_per_month"] = out["orders"] / np.maximum(out["tenure_days"], 30.0) * 30.0
    for days in WINDOWS_DAYS:
        recent = purchases[purchases["age"] < days].groupby("customer_id")
        out[f"orders_{days}d"] = recent.size().reindex(out.index, fill_value=0).astype(float)
        out[f"spend_{days}d"] = recent["value"].sum().reindex(out.index, fill_value=0.0)
    previous = purchases[(purchases["age"] >= 90) & (purchases["age"] < 180)].groupby("customer_id")["value"].sum()
    out["spend_trend_90d"] = out["spend_90d"] - previous.reindex(out.index, fill_value=0.0)
    out = out.join(_gaps(purchases))
    out["gaps"] = out["gaps"].fillna(0.0)
    out["overdue"] = out["recency_days"] / out["gap_mean"]  # > 1: later than usual
    breadth = _product_breadth(history[history["quantity"] > 0], out["gaps"] + 1)
    out = out.join(breadth.reindex(out.index))
    out["products"] = out["products"].fillna(0.0)
    hours = purchases["ordered_at"].dt.hour
    part = pd.cut(hours, bins=[-1, 10, 12, 14, 23], labels=["morning", "late_morning", "midday", "afternoon"])
    shares = pd.crosstab(purchases["customer_id"], part, normalize="index")
    for name in ("morning", "late_morning", "midday", "afternoon"):
        out[f"share_{name}"] = shares[name].reindex(out.index) if name in shares else 0.0
    out["hour_mean"] = hours.groupby(purchases["customer_id"]).mean()
    weekday = pd.crosstab(purchases["customer_id"], purchases["ordered_at"].dt.day_of_week, normalize="index")
    for day in range(7):
        out[f"share_weekday_{day}"] = weekday[day].reindex(out.index) if day in weekday else 0.0
    out["uk"] = (by["country"].last() == "United Kingdom").astype(float)
    cancels = orders[orders["cancelled"]].groupby("customer_id")
    out["cancellations"] = cancels.size().reindex(out.index, fill_value=0).astype(float)
    out["cancelled_share"] = (-cancels["value"].sum()).reindex(out.index, fill_value=0.0) / out["spend"].where(
        out["spend"] > 0
    )
    out.index.name = "customer_id"
    return out[feature_names()]


def feature_names() -> list[str]:
    """The columns of :func:`customer_features`, in order (a stored model checks them)."""
    names = ["recency_days", "tenure_days", "orders", "spend", "order_value_mean", "order_value_max",
             "lines_mean", "units_mean", "orders_per_month"]
    for days in WINDOWS_DAYS:
        names += [f"orders_{days}d", f"spend_{days}d"]
    names += ["spend_trend_90d", "gap_mean", "gap_std", "gaps", "overdue", "products",
              "share_morning", "share_late_morning", "share_midday", "share_afternoon", "hour_mean"]
    names += [f"share_weekday_{day}" for day in range(7)]
    names += ["uk", "cancellations", "cancelled_share"]
    names += list(PRODUCT_REGULARS)
    return names


def outcomes(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """What each customer did in ``[start, end)``: ``bought`` (a non-cancelled order), ``orders``,
    ``spend`` (net of cancellations in the window, never below 0) and ``first_purchase_at``."""
    window = frame[(frame["ordered_at"] >= pd.Timestamp(start)) & (frame["ordered_at"] < pd.Timestamp(end))]
    orders = order_table(window)
    purchases = orders[~orders["cancelled"]]
    out = pd.DataFrame({
        "orders": purchases.groupby("customer_id").size().astype(float),
        "first_purchase_at": purchases.groupby("customer_id")["ordered_at"].min(),
    })
    out["spend"] = orders.groupby("customer_id")["value"].sum().reindex(out.index).clip(lower=0.0)
    out["bought"] = True
    out.index.name = "customer_id"
    return out


def rfm_matrix(features: pd.DataFrame) -> np.ndarray:
    """Log recency, frequency and monetary value: the classic three, for the RFM baseline."""
    return np.column_stack([
        np.log1p(features["recency_days"]), np.log1p(features["orders"]), np.log1p(features["spend"].clip(lower=0)),
    ])


def compact_matrix(features: pd.DataFrame) -> np.ndarray:
    """RFM plus tenure, recent activity, order value, breadth and the home market, log-scaled.

    Linear models get this rather than the full matrix: on the choosing split the full matrix
    gave them no gain and more variance (docs/intelligence.md).
    """
    log = {name: np.log1p(features[name].clip(lower=0)) for name in (
        "tenure_days", "orders_30d", "orders_90d", "spend_90d", "order_value_mean", "products", "orders_per_month")}
    return np.column_stack([rfm_matrix(features), *log.values(), features["uk"].to_numpy()])
