"""Credentials: passwords, TOTP second factor, API keys, console sessions."""
