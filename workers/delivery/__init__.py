"""The delivery engine: rate limiting, batched concurrent sends, retries, dead letters, recovery."""
