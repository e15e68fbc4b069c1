"""Outbound delivery: the authority deciding when a message may go, the state machine of a sent
message, and the engine that claims, sends, retries and recovers (rate limits, journal, dead letters).

Workers only call in here (``workers/jobs/send.py``); nothing here imports ``workers`` or ``api``.
"""
