"""Benchmarks: each prints figures (``python -m bench.<name> --help``); none is a timed test."""
