"""Relais handoff package."""
