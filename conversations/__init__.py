"""Relais conversations package."""
