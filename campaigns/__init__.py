"""Relais campaigns package."""
