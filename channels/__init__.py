"""Relais channels package."""
