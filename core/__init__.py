"""Relais core package."""
