"""Relais knowledge package."""
