"""Security headers sent with every response, and the Content-Security-Policy that fits each page.

The console loads its scripts from ``/console/static`` (HTMX, console.js: no inline script, no
``eval``), keeps a little inline CSS (the brand colour, a few ``style`` attributes), streams over
SSE and registers a service worker: ``'self'`` covers all of it. Two pages need more, and get it
on their paths only: the simulator's phone page carries its script inline, and Swagger UI
(``/docs``) loads its bundle from jsDelivr and starts it with an inline script.
"""

from __future__ import annotations

_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: https:",  # the brand logo may live on the shop's own site
    "connect-src": "'self'",
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_SIMULATOR = {**_BASE, "script-src": "'self' 'unsafe-inline'"}
_DOCS = {
    **_BASE,
    "script-src": "'self' 'unsafe-inline' https://cdn.jsdelivr.net",
    "style-src": "'self' 'unsafe-inline' https://cdn.jsdelivr.net",
}


def _render(policy: dict[str, str]) -> bytes:
    return "; ".join(f"{name} {value}" for name, value in policy.items()).encode()


_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_BY_KIND = {
    "base": (*_COMMON, (b"content-security-policy", _render(_BASE))),
    "simulator": (*_COMMON, (b"content-security-policy", _render(_SIMULATOR))),
    "docs": (*_COMMON, (b"content-security-policy", _render(_DOCS))),
}


def security_headers(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers for a response to ``path`` (lower-case names, as ASGI wants them)."""
    if path == "/docs":
        return _BY_KIND["docs"]
    if path == "/simulator" or path.startswith("/simulator/"):
        return _BY_KIND["simulator"]
    return _BY_KIND["base"]


def with_security_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` followed by the security headers for ``path`` the response did not set itself (a route
    may choose its own policy): the one merge rule for every answer, the request context's and the
    provider webhooks' fast path's alike."""
    present = {name.lower() for name, _ in headers}
    return [*headers, *((name, value) for name, value in security_headers(path) if name not in present)]
