"""Relais contacts package."""
