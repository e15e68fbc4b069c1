"""How the API's own refusals read on the wire (api/errors.py), beyond the problem+json body."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import auth_headers


def test_a_method_not_allowed_names_the_methods_that_are(app_client: TestClient) -> None:
    """RFC 9110 15.5.6: a 405 MUST carry ``Allow``. The problem+json handler dropped it, so a client had no way
    to learn that ``/api/v1/contacts`` takes GET and POST but not DELETE; every route on the path counts, not
    only the first one the router tried."""
    admin = auth_headers("admin")
    refused = app_client.delete("/api/v1/contacts", headers=admin)
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert sorted(m.strip() for m in refused.headers["allow"].split(",")) == ["GET", "POST"]
    assert refused.json()["title"] == "Method not allowed"
    one = app_client.post("/healthz")
    assert one.status_code == 405 and one.headers["allow"] == "GET"
