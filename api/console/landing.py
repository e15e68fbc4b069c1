"""``/``: the page a newcomer opens first, pointing to the console, the simulator and the API docs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console import render

router = APIRouter(include_in_schema=False)
PUBLIC_PATHS = frozenset({"/"})


@router.get("/", response_class=HTMLResponse)
def landing_page(request: Request) -> HTMLResponse:
    """Links to what this deployment offers: the simulator only on the simulator channel, ``/docs``
    only where it is open without signing in (outside production, or ``RELAIS_PUBLIC_DOCS``)."""
    settings = request.app.state.settings
    return render(
        request,
        "landing.html",
        {
            "console_url": "/console",
            "simulator": settings.channel == "simulator",
            "docs_public": settings.env != "production" or settings.public_docs,
        },
    )
