"""Every error leaves the API as ``application/problem+json`` (RFC 9457), mapped here once.

A person opening a console page in the browser (``api.console.page_load``) is not an API client: an address
under ``/console/`` that matches no route (404, 405), that the route cannot read (422) or that failed (500) is
shown as the console's page in words with a way back; API and HTMX clients keep the problem+json.
A 405 carries ``Allow`` with every method the path takes (RFC 9110), whichever of the two it is.
The handlers run on the event loop; the console's pages read the database, so they are drawn in the threadpool.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import console
from core import json_input
from core.errors import RelaisError, TooManyRequests

PROBLEM = "application/problem+json"
log = structlog.get_logger("relais.api")


def problem_body(
    *, status: int, title: str, detail: str, instance: str, request_id: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The problem document itself; also sent by middleware that answers before routing."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = errors
    return body


def problem(
    request: Request, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = problem_body(
        status=status,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", ""),
        errors=errors,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    # only the leading location goes: a field may itself be called "body" (a template's, a text's)
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def _message(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        # request bodies refuse fields they do not know (core.bodies): say so plainly
        return "unknown field: this request does not accept it"
    return str(error.get("msg", "")).removeprefix("Value error, ")


#: the methods a 405's ``Allow`` may name (HEAD and OPTIONS are not routed here)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value of a 405: every method some route on this path takes.

    Starlette's own header names only the first route the router tried (``GET`` for ``/api/v1/contacts``, which
    takes POST too), and FastAPI nests included routers, so each method is put to the router as a request.
    """
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    @app.exception_handler(RelaisError)
    async def _relais(request: Request, exc: RelaisError) -> Response:
        if exc.status_code == 404 and console.page_load(request):
            # a run's report page that is gone (an old link, a report from before they were published) showed the
            # raw problem+json; the console's own routes say it in words in ConsoleRoute
            return await run_in_threadpool(console.not_found_page, request, exc.detail)
        response = problem(request, exc.status_code, exc.title, exc.detail, exc.errors)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if console.page_load(request):
            return await run_in_threadpool(console.unreadable_link_page, request, exc)
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": _message(e)} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(request, 422, "Validation failed", detail, errors)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # a number or text the database cannot hold (an id past 2**63 on SQLite, a value PostgreSQL
        # refuses): the client's input, never the server's fault
        log.info("value out of the database's range", path=request.url.path, error=type(exc).__name__)
        return problem(request, 422, "Validation failed", "a value in this request is out of the range this "
                       "server can store")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        response: Response
        reason = json_input.why(exc.__cause__) if exc.status_code == 400 else None
        if reason is not None:
            # FastAPI's "There was an error parsing the body" for 100,000 nested lists or a 5,000-digit number
            response = problem(request, 422, "Validation failed", f"the JSON body: {reason}", [{"field": "body"}])
        elif exc.status_code in (404, 405) and console.page_load(request):
            # /console/campaigns/abc, /console/nothing-here showed a person the raw problem+json
            response = await run_in_threadpool(console.not_found_page, request, "this page does not exist",
                                               status_code=exc.status_code)
        else:
            title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}.get(
                exc.status_code, "Error"
            )
            response = problem(request, exc.status_code, title, str(exc.detail))
        if exc.status_code == 405:  # RFC 9110: a 405 must say which methods the resource takes
            response.headers["Allow"] = allowed_methods(request) or (exc.headers or {}).get("Allow", "")
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        if console.page_load(request):
            return await run_in_threadpool(console.error_page, request)
        return problem(request, 500, "Internal error", "an unexpected error occurred; see the server log")
