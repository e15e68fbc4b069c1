"""Evaluation suites QA runs (``relais eval run``): data sets, runners, metrics and reports.

Every model's training harness lives here too, so a figure is always measured the same way it was
chosen: on a split carved for choosing, reported on another.
"""
