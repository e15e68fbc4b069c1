"""The campaign wizard: audience → message → schedule → review → confirm, on one page.

Every change re-posts the whole form to ``/console/campaigns/wizard/review``, which answers with
the four summaries (reach and exclusions by reason, each template's encoding and segments, the
schedule in words with the planned send distribution, the cost) and the problems next to their
fields, as HTMX out-of-band fragments; the controls themselves are never redrawn while typing.
"Save the draft" creates or updates a ``draft`` campaign, so the marketer can come back to it
(``/console/campaigns/{id}/edit``); "Confirm" saves it and schedules it with the REST route
functions of ``api.routes.campaigns``, so the checks, the start of a run due now and the audit
entries (``campaign.create`` / ``campaign.update`` / ``campaign.schedule``) are the API's own.
A failed save or confirm rolls its savepoint back and shows the problems in place.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from phonenumbers.tzdata import TIMEZONE_DATA
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.console import campaign_form as forms
from api.console.campaign_review import Review, review
from api.console.campaigns import FREE_CHANNEL, money
from api.deps import Acting, acting
from api.routes import campaigns as rest
from campaigns import preview, service
from campaigns.models import Campaign, Template
from contacts.models import Segment
from core.db import utcnow
from core.errors import RelaisError
from core.rbac import Role
from core.settings import get_settings

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETER = acting(Role.MARKETER)
#: form controls with a problem slot (arms add theirs per arm)
FIELDS = ("name", "segment", "template_id", "arms", "test_percent", "winner_after_hours", "send_at", "local_date",
          "local_time", "recurrence", "timezone", "quiet_start", "quiet_end", "throttle_per_minute", "frequency_cap",
          "frequency_days", "best_start", "best_end", "best_holdout", "control_percent", "batch_size", "batch_minutes",
          "max_hours")
DONE = {"saved": "The draft is saved. You can come back to it from the campaign list."}


async def _wizard(request: Request) -> tuple[forms.WizardForm, int | None]:
    """The posted wizard and its draft's id: a dependency read on the event loop, so the routes stay plain ``def``
    whose reviews, counts and saves run in the threadpool (on the loop, they held every other request)."""
    form = await request.form()
    values = {key: [str(v) for v in form.getlist(key)] for key in form}
    draft = (values.get("draft_id") or [""])[0]
    return forms.read(values), int(draft) if draft.isdigit() else None


Posted = tuple[forms.WizardForm, int | None]
WIZARD = Depends(_wizard)


def _choices(session: Session) -> dict[str, Any]:
    """What the wizard's selects offer: saved segments, marketing templates, the schedule options."""
    return {
        "segments": session.scalars(select(Segment).order_by(Segment.name)).all(),
        "templates": session.scalars(
            select(Template).where(Template.kind == "marketing").order_by(Template.name)).all(),
        "when_options": forms.WHEN, "repeat_options": forms.REPEAT, "weekdays": forms.WEEKDAYS,
        "metrics": forms.METRICS, "zones": forms.ZONES, "arm_names": forms.ARM_NAMES,
    }


def _context(session: Session, wizard: forms.WizardForm, draft: Campaign | None, *, admin: bool) -> dict[str, Any]:
    checked = review(session, wizard, forms.to_api(wizard), draft_id=draft.id if draft else None, now=utcnow(),
                     admin=admin)
    return {"wizard": wizard, "draft": draft, "review": checked, "fields": FIELDS, "money": money,
            "simulator": get_settings().channel == FREE_CHANNEL, "sized_recipients": preview.SIZED_RECIPIENTS,
            **_choices(session)}


def _page(by: Acting, wizard: forms.WizardForm, draft: Campaign | None, done: str = "") -> HTMLResponse:
    context = _context(by.session, wizard, draft, admin=by.principal.role == Role.ADMIN) | {"done": DONE.get(done, "")}
    return render(by.request, "console/campaign_wizard.html", context, principal=by.principal)


def _summaries(by: Acting, wizard: forms.WizardForm, draft_id: int | None,
               problems: dict[str, str] | None = None) -> HTMLResponse:
    draft = by.session.get(Campaign, draft_id) if draft_id is not None else None
    context = _context(by.session, wizard, draft, admin=by.principal.role == Role.ADMIN)
    if problems:  # a refused save or confirm: its problems first, then the review's own
        checked: Review = context["review"]
        checked.problems = {**checked.problems, **problems}
    # a refused save or confirm: campaigns.js moves the focus (and the view) to the problem list at the top; the
    # button at the foot of the page seemed to do nothing, the list being a long page away
    refused = {"HX-Trigger-After-Settle": "wizard-refused"} if problems is not None else None
    return render(by.request, "console/_campaign_wizard_summaries.html", context, principal=by.principal,
                  headers=refused)


def home_zone(region: str) -> str:
    """The zone a new campaign starts in: the business's country's when it has only one (FR:
    Europe/Paris), else UTC. In UTC a Paris shop read its 08:00 sends as "07:00" in the planned sends."""
    zones = TIMEZONE_DATA.get(str(phonenumbers.country_code_for_region(region)), ())
    return zones[0] if len(zones) == 1 else "UTC"


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(segment: int | None = None, by: Acting = MARKETER) -> HTMLResponse:
    """The wizard, empty, or for ``segment`` (the segments page's "New campaign to it": a segment just built was
    a trip back to Campaigns and a pick from the list away from its campaign)."""
    templates = by.session.scalars(select(Template.id).where(Template.kind == "marketing").limit(1)).all()
    zone = home_zone(by.request.app.state.settings.default_region)
    chosen = str(segment) if segment is not None and by.session.get(Segment, segment) is not None else ""
    wizard = forms.WizardForm(template_id=str(templates[0]) if templates else "", timezone=zone, segment=chosen)
    context = _context(by.session, wizard, None, admin=by.principal.role == Role.ADMIN) | {"done": ""}
    # nothing answered yet, so nothing to "look at again": the page opened on "Campaign name: enter a name"
    # in red; the first change's review (and a confirm) say what is missing
    context["review"].problems = {}
    return render(by.request, "console/campaign_wizard.html", context, principal=by.principal)


@router.get("/campaigns/{campaign_id:int}/edit", response_class=HTMLResponse, response_model=None)
def edit_draft(campaign_id: int, done: str = "", by: Acting = MARKETER) -> Response:
    """A saved draft back in the wizard; a campaign past its draft opens on its report page."""
    draft = service.get_campaign(by.session, campaign_id)
    if draft.status != "draft":
        return RedirectResponse(f"/console/campaigns/{campaign_id}", status_code=303)
    return _page(by, forms.from_campaign(draft), draft, done)


@router.post("/campaigns/wizard/review", response_class=HTMLResponse)
def review_fragments(by: Acting = MARKETER, posted: Posted = WIZARD) -> HTMLResponse:
    """The summaries and problems for the form as it is now (nothing is written)."""
    wizard, draft_id = posted
    return _summaries(by, wizard, draft_id)


@router.post("/campaigns/wizard/arms", response_class=HTMLResponse)
def redraw_arms(by: Acting = MARKETER, posted: Posted = WIZARD) -> HTMLResponse:
    """The A/B arms after one was added or removed (the review re-counts through ``wizard-changed``)."""
    wizard, _ = posted
    return render(by.request, "console/_campaign_arms.html", {"wizard": wizard, **_choices(by.session)},
                  principal=by.principal, headers={"HX-Trigger-After-Swap": "wizard-changed"})


def _save(by: Acting, wizard: forms.WizardForm, draft_id: int | None) -> Campaign:
    """Create or update the draft (audited like the API); raises ``_Refused`` or ``RelaisError``."""
    bodies = forms.to_api(wizard)
    if bodies.campaign is None or bodies.schedule is None:
        raise _Refused(bodies.problems)
    session = by.session
    if draft_id is None:
        created = rest.create_campaign(bodies.campaign, by.request, session, by.principal)
        draft = service.get_campaign(session, created.id)
        return service.update_draft(session, draft, bodies.campaign, planned=bodies.schedule)
    draft = service.update_draft(session, service.get_campaign(session, draft_id, lock=True), bodies.campaign,
                                 planned=bodies.schedule)
    by.audit("campaign.update", "campaign", draft.id, {"name": draft.name, "status": draft.status})
    return draft


class _Refused(Exception):
    """The form is incomplete: nothing to save (its problems are by form field already)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("the form has problems")
        self.problems = problems


def _attempt(by: Acting, posted: Posted, *, confirm: bool) -> Response:
    """Save the posted form as a draft, and schedule it when ``confirm``; problems are shown in place."""
    wizard, draft_id = posted
    savepoint = by.session.begin_nested()
    try:
        draft = _save(by, wizard, draft_id)
        if confirm:
            bodies = forms.to_api(wizard)
            assert bodies.schedule is not None  # _save refused otherwise
            rest.schedule_campaign(draft.id, bodies.schedule, by.request, by.session, by.principal)
        savepoint.commit()
    except _Refused as refused:
        savepoint.rollback()
        return _summaries(by, wizard, draft_id, refused.problems)
    except RelaisError as exc:
        savepoint.rollback()
        return _summaries(by, wizard, draft_id, forms.problems_of(exc.errors, exc.detail))
    target = f"/console/campaigns/{draft.id}" + ("?done=scheduled" if confirm else "/edit?done=saved")
    return Response(status_code=204, headers={"HX-Location": target})


@router.post("/campaigns/wizard/save", response_class=HTMLResponse)
def save_draft(by: Acting = MARKETER, posted: Posted = WIZARD) -> Response:
    """Save the draft and reopen it (its id in the address); problems are shown in place."""
    return _attempt(by, posted, confirm=False)


@router.post("/campaigns/wizard/confirm", response_class=HTMLResponse)
def confirm(by: Acting = MARKETER, posted: Posted = WIZARD) -> Response:
    """Save and schedule (a start due now begins its run at once), then open the campaign's page."""
    return _attempt(by, posted, confirm=True)
