"""The HTTP face of Relais: REST ``/api/v1``, provider webhooks and the console (Jinja2 + HTMX + SSE).

Each route parses, authorises, calls one domain function and shapes the answer; no business rule
lives here, so the REST API and the console cannot disagree.
"""
