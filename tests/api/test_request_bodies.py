"""Request bodies refuse unknown fields (core.bodies.RequestBody): a 422 naming each one.

The walk over every route finds any body model, nested ones included, that would silently drop
a field the caller meant (an ``idempotency_key`` in the JSON, a misspelt ``send_at``).
"""

from __future__ import annotations

import typing
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.app import discover_routers
from core.bodies import RequestBody
from tests.helpers import auth_headers


def _models(annotation: Any) -> typing.Iterator[type[BaseModel]]:
    if typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            yield from _models(argument)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation)


def _routes() -> typing.Iterator[APIRoute]:
    for router in discover_routers():
        yield from (route for route in router.routes if isinstance(route, APIRoute))


def _body_models() -> dict[type[BaseModel], str]:
    found: dict[type[BaseModel], str] = {}
    for route in _routes():
        for param in route.dependant.body_params:
            for model in _models(param.field_info.annotation):
                found.setdefault(model, f"{sorted(route.methods)[0]} {route.path}")
    return found


def test_every_request_body_model_forbids_unknown_fields(runtime: object) -> None:
    models = _body_models()
    assert len(models) > 40  # the walk sees the API's bodies (and the console's)
    lax = [f"{m.__module__}.{m.__qualname__} ({where})" for m, where in models.items()
           if m.model_config.get("extra") != "forbid"]
    assert lax == []
    assert all(issubclass(m, RequestBody) for m in models)


def test_response_models_accept_extra_attributes(runtime: object) -> None:
    # an answer built from a row or a dict with more keys must not fail (several Out models
    # extend their In model, whose RequestBody base forbids extras); a request model echoed
    # back as the answer (PUT /events/templates) only ever holds its own fields
    responses = {m for route in _routes() for m in _models(route.response_model)} - set(_body_models())
    assert len(responses) > 40
    strict = [f"{m.__module__}.{m.__qualname__}" for m in responses if m.model_config.get("extra") == "forbid"]
    assert strict == []


def test_unknown_fields_are_a_422_naming_them(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/messages",
        json={"to": "+33612345678", "body": "hi", "idempotency_key": "order-42", "sheduled_at": "soon"},
        headers=auth_headers("agent"),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"idempotency_key", "sheduled_at"}
    assert all(e["message"].startswith("unknown field") for e in problem["errors"])
    assert "idempotency_key: unknown field" in problem["detail"]


def test_unknown_nested_field_is_named_with_its_path(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/messages",
        json={"to": "+33612345678", "body": "", "media": [{"url": "https://example.com/a.jpg",
                                                           "content_type": "image/jpeg", "alt": "x"}]},
        headers=auth_headers("agent"),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["media.0.alt"]


def test_responses_are_unaffected(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/messages", json={"to": "+33612345678", "body": "hi"},
                               headers=auth_headers("agent"))
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
