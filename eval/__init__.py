"""Relais eval package."""
