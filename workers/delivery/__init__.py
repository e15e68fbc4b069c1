"""Delivery wiring for worker processes: the engine built from settings, inbound ingest jobs."""
