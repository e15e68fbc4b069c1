"""Relais agent package."""
