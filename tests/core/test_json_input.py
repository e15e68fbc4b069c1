"""JSON callers send: every failure is a ValueError, so each caller's ``except ValueError`` answers a 4xx
(docs/security.md, "Files the server parses"). ``[[[[…`` posted anonymously to a provider webhook answered 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from core import json_input
from tests.helpers import auth_headers

DEEP = b"[" * 30_000 + b"]" * 30_000


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (DEEP, "nested too deeply"),
        (b'{"a": ' * 30_000 + b"1" + b"}" * 30_000, "nested too deeply"),
        (b"[" + b"9" * 5_000 + b"]", "a number has more than 4,300 digits"),
    ],
    ids=["arrays", "objects", "long-number"],
)
def test_every_failure_is_a_value_error_in_words(data: bytes, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        json_input.loads(data)


def test_a_syntax_error_keeps_its_place_and_good_json_parses() -> None:
    with pytest.raises(json.JSONDecodeError) as error:
        json_input.loads('{"a": }')
    assert (error.value.lineno, error.value.colno) == (1, 7)
    assert json_input.loads('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


def test_an_anonymous_deep_json_webhook_is_a_4xx(app_client: TestClient) -> None:
    answer = app_client.post("/webhooks/vonage/inbound", content=DEEP, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_deep_import_mapping_is_a_422_naming_it(app_client: TestClient) -> None:
    answer = app_client.post(
        "/api/v1/contacts/imports/preview",
        headers={**auth_headers("marketer"), "Content-Type": "text/csv"},
        params={"mapping": "[" * 3_000 + "]" * 3_000},
        content=b"phone\n+33612345678\n",
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": "mapping"}]


@pytest.mark.parametrize(
    ("body", "said"),
    [(DEEP, "nested too deeply"), (b'{"phone": ' + b"9" * 5_000 + b"}", "a number has more than 4,300 digits")],
    ids=["deep", "long-number"],
)
def test_a_json_request_body_fastapi_cannot_parse_is_a_422_saying_why(
    app_client: TestClient, body: bytes, said: str
) -> None:
    """FastAPI answered 400 "There was an error parsing the body", which says nothing a caller can fix."""
    answer = app_client.post(
        "/api/v1/contacts", headers={**auth_headers("marketer"), "Content-Type": "application/json"}, content=body
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == f"the JSON body: {said}"
