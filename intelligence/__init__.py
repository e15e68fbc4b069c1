"""Campaign intelligence: customer features, predictions, uplift, bandit allocation and forecasts.

It learns from the purchase history (``contacts`` owns the orders) and the engagement Relais
records (``conversations``); ``campaigns`` reads its predictions. Models work on one neutral
table of order lines (:mod:`intelligence.transactions`), so the evaluation suites (public data
files) and the product (the orders table) run the same code.
"""
