"""The agent console: server-rendered pages, HTMX fragments, a live event stream and the PWA files.

Every module here that defines ``router`` is discovered by ``api.app``. Console routes use
:class:`ConsoleRoute`, which turns a 401 on a browser page load (``Accept: text/html``) into a
303 to the log-in page and a 403 into a friendly HTML page linking to the user's home; API
clients, HTMX requests and the RBAC route walk still get the plain problem+json answers. A page for
something that does not exist (``NotFound``) is a 404 page in words, and an unexpected error a 500
page in words with the request's reference, not the problem+json. :func:`page_load` is the one test of
"a person opened this page in the browser"; ``api.errors`` asks it too, so an address under ``/console/``
that matches no route (404, 405), whose path or query the route cannot read (422) or that failed outside
a route (500) is the same page in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from babel import Locale, UnknownLocaleError
from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.console.reasons import state_words, words
from api.console.roles import home, navigation
from api.console.times import local_time, summary_html
from api.deps import optional_principal
from campaigns.brand import business_name
from channels.countries import region_code
from core import db
from core.accounts import Principal
from core.errors import Forbidden, NotFound, PasswordChangeRequired, RelaisError, Unauthorized, ValidationFailed
from core.settings import Settings
from core.words import counted

log = structlog.get_logger(__name__)
LOGIN_PATH = "/console/login"
PASSWORD_PATH = "/console/password"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"


def badge(value: Any) -> str:
    """A short label for an analysis value that may be a dict (``{"name"|"label", "score"}``) or plain; a code
    in words ("opt out", not "opt_out")."""
    if isinstance(value, dict):
        label = words(str(value.get("action") or value.get("name") or value.get("label") or value.get("code") or ""))
        score = value.get("confidence", value.get("score"))
        return f"{label} {score:.2f}".strip() if isinstance(score, int | float) else label
    return "" if value is None else words(str(value))


#: Below this probability the sentiment model's leading label is no likelier than the other two together
#: (three classes), so the console shows "neutral": "je veux parler à un humain" read "positive 0.45".
#: Display only: escalation reads the score (RELAIS_SENTIMENT_ESCALATE_BELOW), never this label.
#: On UMSAB val (1,944 texts) the shown "positive" is right 76 % of the time instead of 70 %
#: ("negative" 66 % instead of 63 %); 221 labels (11 %) become neutral (docs/console.md).
SENTIMENT_SHOWN_FROM = 0.5


def sentiment_badge(value: Any) -> str:
    """A message's sentiment as the thread shows it: the label and its probability, or "neutral" with
    the model's unsure guess when the label's probability is under ``SENTIMENT_SHOWN_FROM``."""
    if not isinstance(value, dict) or not isinstance(value.get("confidence"), int | float):
        return badge(value)
    label, confidence = str(value.get("label") or ""), float(value["confidence"])
    if label != "neutral" and confidence < SENTIMENT_SHOWN_FROM:
        return f"neutral (unsure: {label} {confidence:.2f})"
    return f"{label} {confidence:.2f}"


def intent_badge(value: Any) -> str:
    """A message's intent as the thread shows it, in words ("order status 0.93": it read "order_status 0.93",
    the model's code): a text none of the intents fits has no name, only the classifier's confidence that
    it is out of scope, and read "intent 0.99" as if a word was missing."""
    if isinstance(value, dict) and not value.get("name") and value.get("out_of_scope"):
        return badge({**value, "name": "out of scope"})
    return badge(value)


def contact_name(contact: Any) -> str:
    """A contact's name as every page shows it. ``name`` holds a family name (imports map "Nom" to it)
    or a whole name (the demo's "Léa Martin"): the first name is put before it only when it is not
    already there, so no page says "Léa Léa Martin"."""
    whole = str(contact.name or "")
    if contact.first_name and not whole.startswith(contact.first_name):
        whole = f"{contact.first_name} {whole}".strip()
    return whole or f"Contact #{contact.id}"


def language_name(code: Any) -> str:
    """A language code as a person reads it: "French" for "fr", "French (Canada)" for "fr-CA"; a code no
    locale knows stays as it is. Pages showed the bare codes, which an agent or a marketer had to decode."""
    text = str(code or "").strip()
    try:
        name = Locale.parse(text.replace("-", "_")).get_display_name("en") if text else ""
    except (ValueError, UnknownLocaleError):
        return text
    return (name[:1].upper() + name[1:]) if name else text


def named_with_language(name: Any, code: Any) -> str:
    """A name followed by its language in brackets, unless the name already says it: the demo's template
    "New collection (EN)" was offered as "New collection (EN) (English)". The name says it with the language's
    name ("English"), or its code in capitals ("EN") or in brackets ("(en)"); a lower-case "it" in "Get it now"
    is a word, not Italian."""
    text, language = str(name or ""), language_name(code)
    short = str(code or "").strip().split("-")[0]
    if not short:
        return text
    said = re.search(rf"\b{re.escape(short.upper())}\b|[(\[]\s*{re.escape(short)}\b", text, re.IGNORECASE)
    capitals = said is not None and (said.group(0).isupper() or said.group(0)[0] in "([")
    if capitals or language.casefold() in text.casefold():
        return text
    return f"{text} ({language})"


def country_name(code: Any) -> str:
    """A country code as a person reads it: "France" for "FR"; a code no locale knows stays as it is."""
    text = str(code or "").strip()
    return str(_ENGLISH.territories.get(text.upper(), text)) if text else ""


_ENGLISH = Locale("en")


def language_code(text: str) -> str:
    """A language as a person types it in a filter: a code stays ("fr"), a name in English becomes its code
    ("French" → "fr"). The contacts list names each language ("French") while its filter took only codes, so
    typing what the list showed matched nobody."""
    typed = text.strip()
    return _LANGUAGES_BY_NAME.get(typed.casefold(), typed)


def country_code(text: str) -> str:
    """A country as a person types it in a filter: a code in capitals ("fr" → "FR"), a name becomes its code
    ("France", "Deutschland" → the import's reading, ``channels.countries.region_code``; the list names each
    country, the filter took codes and refused a longer word)."""
    typed = text.strip()
    return region_code(typed) or (typed.upper() if len(typed) == 2 else typed)


_LANGUAGES_BY_NAME = {str(name).casefold(): code for code, name in _ENGLISH.languages.items() if "_" not in code}
TEMPLATES.env.filters["badge"] = badge
TEMPLATES.env.filters["language"] = language_name
TEMPLATES.env.filters["country"] = country_name
TEMPLATES.env.filters["with_language"] = named_with_language
TEMPLATES.env.filters["intent_badge"] = intent_badge
TEMPLATES.env.filters["sentiment_badge"] = sentiment_badge
TEMPLATES.env.filters["contact_name"] = contact_name
TEMPLATES.env.filters["counted"] = counted
TEMPLATES.env.globals["state_words"] = state_words
TEMPLATES.env.globals["local_time"] = local_time
TEMPLATES.env.globals["summary_html"] = summary_html


def wants_html(request: Request) -> bool:
    """A browser navigation (not an HTMX fragment request or an API call)."""
    return "text/html" in request.headers.get("accept", "") and "hx-request" not in request.headers


#: a run's report page, which the QA page links: a person opens it as they open the console's pages
REPORT_PAGE = re.compile(r"/api/v1/eval/reports/[^/]+/[^/]+/html")


def page_load(request: Request) -> bool:
    """A person opening a console page in the browser: a GET of an address under ``/console`` (or of a run's report
    page) accepting HTML, not an HTMX fragment request nor an API client. The one test deciding whether a refusal or
    a failure is shown as a page in words (here and in ``api.errors``) or left as the problem+json its clients
    read."""
    path = request.url.path
    console = path == "/console" or path.startswith("/console/") or REPORT_PAGE.fullmatch(path) is not None
    return request.method == "GET" and wants_html(request) and console


class ConsoleRoute(APIRoute):
    """An ``APIRoute`` whose anonymous browser page loads are redirected to the log-in page.

    The pages in words it answers with read the database (the brand, the visitor), so they are drawn in the
    threadpool: this wrapper runs on the event loop, where a query holds every other request of the server."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthorized:
                if page_load(request):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
                if "hx-request" in request.headers:
                    # HTMX follows HX-Redirect with a full navigation when the session has ended.
                    return Response(status_code=401, headers={"HX-Redirect": LOGIN_PATH})
                raise
            except PasswordChangeRequired:
                if page_load(request):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"{PASSWORD_PATH}?next={quote(target, safe='')}", status_code=303)
                raise
            except Forbidden:
                if page_load(request):
                    return await run_in_threadpool(forbidden_page, request)
                raise
            except NotFound as exc:
                if page_load(request):
                    # a deleted campaign's old link showed the raw problem+json in the browser
                    return await run_in_threadpool(not_found_page, request, exc.detail)
                raise
            except ValidationFailed as exc:
                if page_load(request):
                    # a filter the page refused (?consent=bogus) showed the raw problem+json
                    return await run_in_threadpool(bad_link_page, request, [exc.detail])
                raise
            except (RelaisError, HTTPException, RequestValidationError):
                raise  # mapped by api.errors, which shows a page load the console's page (page_load)
            except Exception:
                if page_load(request):
                    # a page that failed showed the 500's problem+json in the browser
                    log.exception("unhandled error", path=request.url.path)
                    return await run_in_threadpool(error_page, request)
                raise

        return route


def _visitor(request: Request) -> Principal | None:
    """Who is reading an error page. A route's dependency (``api.deps.optional_principal``) has set it; when no
    route matched (``/console/nothing-here``) it is read here from the session, so the page keeps the person's
    navigation and links to their own home, not to the log-in page."""
    if hasattr(request.state, "principal"):
        principal: Principal | None = request.state.principal
        return principal
    try:
        with db.session_scope() as session:
            return optional_principal(request, session)
    except PasswordChangeRequired:
        return getattr(request.state, "principal", None)  # signed in; the page itself is harmless to show
    except RelaisError:
        return None  # a revoked key or a wrong CSRF token: nobody to name
    except Exception:  # an error page is shown even when the session cannot be read
        log.warning("error page without its reader", path=request.url.path, exc_info=True)
        return None


def forbidden_page(request: Request) -> HTMLResponse:
    """The 403 a person sees in the browser: what happened and a link to their own home page."""
    principal: Principal | None = getattr(request.state, "principal", None)  # set by api.deps.optional_principal
    return render(request, "console/forbidden.html", {"home": home(principal.role) if principal else LOGIN_PATH},
                  principal=principal, status_code=403)


def not_found_page(request: Request, detail: str, *, status_code: int = 404) -> HTMLResponse:
    """The 404 a person sees in the browser: what is missing, in words, and a link to their home page. An address
    no route answers with a GET (405: a form's action typed or bookmarked) is, to a person, a page that does not
    exist; its status stays the server's answer."""
    principal = _visitor(request)
    return render(request, "console/not_found.html", {"detail": detail or "this page does not exist",
                                                      "home": home(principal.role) if principal else LOGIN_PATH},
                  principal=principal, status_code=status_code)


def unreadable_link_page(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """A page load whose address the route cannot read: a wrong id in the path (/console/segments/abc) is a page
    that does not exist (404), a wrong query (?state=sent) the 422 naming what is wrong. Both were logged as a
    server error and shown as "Something went wrong"."""
    if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
        return not_found_page(request, "this page does not exist")
    return bad_link_page(request, [_said(e) for e in exc.errors()])


def _said(error: Any) -> str:
    """One refused part of a link in words: the query parameter's name and why ("state: should be one of draft,
    scheduled, …", where pydantic names the pattern it matched, a regular expression)."""
    name = ".".join(str(part) for part in tuple(error.get("loc", ()))[1:]) or "the address"
    if error.get("type") == "string_pattern_mismatch":
        choices = re.fullmatch(r"\^\(([\w|]+)\)\??\$", str((error.get("ctx") or {}).get("pattern", "")))
        why = f"should be one of {', '.join(choices.group(1).split('|'))}" if choices else "is not in the form it takes"
        return f"{name}: “{error.get('input', '')}” {why}"
    return f"{name}: {str(error.get('msg', '')).removeprefix('Value error, ')}"


def bad_link_page(request: Request, problems: list[str]) -> HTMLResponse:
    """The 422 a person sees in the browser when a link's filters are wrong: what is wrong, in words, and a link to
    the same page without them."""
    principal = _visitor(request)
    return render(request, "console/bad_link.html", {"problems": problems, "plain": request.url.path},
                  principal=principal, status_code=422)


def error_page(request: Request) -> HTMLResponse:
    """The 500 a person sees in the browser: that it failed, the reference to quote, a link home."""
    principal = _visitor(request)
    return render(request, "console/error.html", {"request_id": getattr(request.state, "request_id", "")},
                  principal=principal, status_code=500)


def brand(settings: Settings) -> dict[str, str]:
    """The branding every console page shows: the brand profile's name, the colour and logo from settings."""
    with db.session_scope() as session:
        name = business_name(session, settings)
    return {
        "name": name,
        "color": settings.brand_color,
        "logo_url": settings.brand_logo_url,
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a console template with the branding, the caller, their navigation and CSRF token in scope."""
    settings: Settings = request.app.state.settings
    values: dict[str, Any] = {
        "brand": brand(settings),
        "principal": principal,
        "nav": navigation(principal.role) if principal else [],
        "home": home(principal.role) if principal else LOGIN_PATH,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status_code, headers=headers)
