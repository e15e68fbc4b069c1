"""Relais api package."""
