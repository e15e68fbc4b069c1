"""Loaders for the labelled data sets that eval suites and training scripts read."""
