"""Every evaluation suite"s name and what it measures, with nothing to import.

The runners register under these names (``eval.runner.register``); the console"s QA page lists the suites not
run yet from here, where importing the runners would load their models and libraries (seconds) in a web request.
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "agent": "Whole agent on the demo business: decisions, intents, sources, facts, groundedness",
    "bandit": (
        "Replay (Li et al. 2011) of adaptive policies over Hillstrom's three arms: contextual Thompson "
        "vs A/B then commit, Thompson and the best arm in hindsight, 5 seeds"
    ),
    "banking77": "BANKING77 intents: accuracy with the full training set and 10 per intent (CSV)",
    "clinc150": "CLINC150 intents + out-of-scope: in-scope accuracy, OOS recall (JSON file)",
    "gate": "Small and fast: keywords, red-team opt-out/abuse, gate agent cases, a CLINC150 subset",
    "keywords": (
        "Compliance on a fresh deployment (keyword table + built-in intents), six languages: table "
        "opt-outs 100 %, unseen natural-language opt-outs, false opt-outs"
    ),
    "language": "Language ID on UMSAB texts + short replies: accuracy by message length",
    "optout": "Natural-language opt-outs vs harmless look-alikes, six languages: recall, false opt-outs",
    "propensity": "Online Retail: P(buy in the horizon) AUC, next-period spend Spearman and revenue error",
    "recommend": "Online Retail: hit@10 of product recommendations for customers buying next period",
    "redteam": "Red-team: injections, data extraction, abuse, opt-outs, edge messages (each failure)",
    "response": (
        "Campaign response AUC on Bank Marketing without duration: tuned LightGBM vs logistic regression "
        "and gradient boosting"
    ),
    "retrieval": "Retrieval on the demo FAQ with paraphrases: hit@1, hit@3, MRR",
    "send_time": "Online Retail: next order's hour within ±1 h of each customer's predicted best hour",
    "sentiment": "Sentiment model on UMSAB (folder + split): accuracy and macro-F1 per language",
    "uplift": (
        "Uplift of a message among the 30 % it targets (Hillstrom visit, e-mail vs none): chosen learner "
        "vs random and two-model logistic regression"
    ),
}
