"""Reproducible training and comparison scripts for the agent's models (run with ``python -m``)."""
