"""The installable console: web manifest, service worker, static files, and web-push subscriptions.

The service worker is served from ``/console/sw.js`` so its scope covers the whole console. The
router's lifespan runs this process's :class:`~api.console.webpush.PushRelay`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from api.console import STATIC_DIR, brand, webpush
from api.deps import Acting, acting, require
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import NotFound
from core.rbac import Role
from core.settings import get_settings


@asynccontextmanager
async def _relay(app: FastAPI) -> AsyncIterator[None]:
    relay = webpush.PushRelay(get_settings())
    relay.start()
    try:
        yield
    finally:
        relay.stop()


router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False, lifespan=_relay)
PUBLIC_PATHS = frozenset({"/console/manifest.webmanifest", "/console/sw.js", "/console/static/{name}"})
AGENT = acting(Role.AGENT)
STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> JSONResponse:
    """Name and colours come from the branding settings."""
    branding = brand(request.app.state.settings)
    body: dict[str, Any] = {
        "name": f"{branding['name']} console",
        "short_name": branding["name"],
        "start_url": "/console",
        "scope": "/console",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": branding["color"],
        "icons": [
            {"src": "/console/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/console/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/console/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        ],
    }
    return JSONResponse(body, media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/console", "Cache-Control": "no-cache"},
    )


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """Files of ``api/static/console`` only (flat; no path traversal is possible with one segment)."""
    path = STATIC_DIR / name
    kind = STATIC_TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or kind is None or not path.is_file():
        raise NotFound(f"no console file {name!r}")
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "public, max-age=3600"})


class PushKeysIn(RequestBody):
    p256dh: str = Field(min_length=20, max_length=200)
    auth: str = Field(min_length=8, max_length=64)


class PushSubscriptionIn(RequestBody):
    """The browser's ``PushSubscription.toJSON()``, as the console posts it."""

    endpoint: str = Field(pattern=r"^https?://", max_length=2000)
    expirationTime: float | None = None  # the Push API's name; unused: the push service expires it
    keys: PushKeysIn


class PushKeyOut(BaseModel):
    public_key: str


@router.get("/push/key", response_model=PushKeyOut)
def push_key(request: Request, _: Principal = Depends(require(Role.AGENT))) -> PushKeyOut:
    """The VAPID public key (the browser's ``applicationServerKey``)."""
    return PushKeyOut(public_key=webpush.application_server_key(request.app.state.settings))


@router.post("/push/subscriptions", status_code=204)
def push_subscribe(body: PushSubscriptionIn, by: Acting = AGENT) -> Response:
    """Notify this browser (audited ``push.subscribe`` with the push service's host: the endpoint is a secret)."""
    webpush.subscribe(
        by.request.app.state.settings,
        webpush.Subscription(
            user_id=by.principal.id,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            kind=by.principal.kind,
        ),
    )
    by.audit("push.subscribe", "user", by.principal.id, {"service": urlsplit(body.endpoint).hostname})
    return Response(status_code=204)


class EndpointIn(RequestBody):
    endpoint: str = Field(min_length=1, max_length=2000)


@router.post("/push/unsubscribe", status_code=204)
def push_unsubscribe(body: EndpointIn, by: Acting = AGENT) -> Response:
    """Stop notifying a browser the caller registered (audited ``push.unsubscribe`` when one was removed).

    Another user's subscription is left alone and the answer is the same ``204``, so the route tells nobody
    whether an endpoint they name is registered."""
    settings = by.request.app.state.settings
    if webpush.unsubscribe(settings, body.endpoint, user_id=by.principal.id, kind=by.principal.kind):
        by.audit("push.unsubscribe", "user", by.principal.id, {"service": urlsplit(body.endpoint).hostname})
    return Response(status_code=204)
