"""Campaigns in the console: a list with filters and headline figures, a report page with SVG charts.

The figures come from :mod:`campaigns.reporting` (the same numbers as the REST report and its
CSV/XLSX exports); this module only adds the per-day series of one campaign and the chart
geometry, so templates draw plain ``<rect>`` elements without arithmetic. The report part of the
page is a fragment that HTMX re-fetches every few seconds while the campaign is sending. What a
marketer may do in each state (:data:`STATE_ACTIONS`) drives the page's buttons; the actions
themselves are in ``api.console.campaign_actions``, the wizard in ``api.console.campaign_wizard``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, language_name, render, views
from api.console.forecast_words import runs as forecast_runs
from api.deps import db_session, require
from campaigns import forecasting, report_export, reporting, scheduling, service
from campaigns import texts_sent as campaign_texts
from campaigns.models import Campaign, LinkClick, Template
from contacts.consent import REFUSAL_TEXT
from conversations.models import Message
from core.accounts import Principal
from core.db import utcnow
from core.rbac import Role
from core.settings import get_settings
from core.words import counted

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
READERS = require(Role.MARKETER, Role.ANALYST)
#: states in which the report part polls: a scheduled campaign too, so the open page follows it when it starts
LIVE_STATUSES = ("scheduled", "preparing", "running")
#: states in which texts are going out, the only ones whose report says it updates "while the campaign is sending"
SENDING_NOW = ("preparing", "running")
#: states in which the current run is still under way (its figures are not final)
SENDING_STATUSES = ("preparing", "running", "paused")
REFRESH_SECONDS = 10
LIST_LIMIT = 100
STATES = ("draft", "scheduled", "preparing", "running", "paused", "completed", "cancelled")
#: what a marketer may do with a campaign in each state (``campaigns.service`` enforces the same)
STATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "draft": ("edit", "cancel"),
    "scheduled": ("pause", "cancel"),
    "preparing": ("pause", "cancel"),
    "running": ("pause", "cancel"),
    "paused": ("resume", "cancel"),
    "completed": (),
    "cancelled": (),
}
#: per state: where the campaign stands, then what a marketer can do about it (an analyst, who has
#: no buttons, reads the first part alone: "Pausing holds them" offered them actions they did not have)
STATE_WORDS = {
    "draft": ("A draft: nothing is sent.", "Continue editing it, schedule it from the wizard, or discard it."),
    "scheduled": ("Scheduled: it starts at its planned time.", "You can pause it (it then waits) or cancel it."),
    "preparing": ("Sending: messages are being prepared.",
                  "Pausing holds every queued message; cancelling stops it for good."),
    "running": ("Sending: queued messages go as their windows open.",
                "Pausing holds them; cancelling stops it for good."),
    "paused": ("Paused: queued messages wait.",
               "Resuming re-plans them from now (quiet hours and throttle included); cancelling stops it for good."),
    "completed": ("Completed: every message was sent or settled.", "Reports and exports stay available."),
    "cancelled": ("Cancelled: messages still queued were not sent.", "Reports and exports stay available."),
}  # fmt: skip
#: a campaign paused with no run under way (paused while scheduled, or a recurring one between runs): nothing is
#: queued, so "queued messages wait" and "re-plans them from now" were untrue; resuming puts it back to scheduled
PAUSED_UNSTARTED = (
    "Paused before {run}: nothing is prepared or queued yet, and it does not start while paused.",
    "Resuming puts it back on its schedule: it starts at its planned send time, at once if that time has passed; "
    "cancelling stops it for good.",
)
#: a campaign paused while it was being prepared (``phase`` main or holdout): part of its audience has messages, the
#: rest none yet; "queued messages wait" left out that nothing more is prepared, and what resume does with the rest
PAUSED_PREPARING = (
    "Paused while it was being prepared: {prepared} before the pause, and none yet for the rest of its audience. "
    "While paused, nothing more is prepared and nothing is sent.",
    "Resuming prepares the rest from where it stopped and re-plans the prepared messages from now (quiet hours and "
    "throttle included); cancelling stops it for good.",
)
BAR_SPACE = 360.0  # SVG units for the longest horizontal bar
#: why preparation left a recipient out, besides consent (``contacts.consent.REFUSAL_TEXT``)
SKIP_LABELS = {
    "frequency_cap": "frequency cap reached",
    "render_error": "the template failed for this contact",
    "control": "held out as the adaptive test's control (no message)",
}


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: ``length`` is in SVG units, ``text`` the value as shown; ``part``, when set, is the
    length of a darker stripe inside the bar (the delivered share of a day's sent texts)."""

    label: str
    value: float
    length: float
    text: str
    part: float = 0.0


@dataclass(frozen=True)
class Day:
    """One day of a campaign."""

    date: str
    sent: int
    delivered: int
    failed: int
    clicks: int


def bars(items: list[tuple[str, float]], *, percent: bool = False) -> list[Bar]:
    """Scale values to :data:`BAR_SPACE`; rates (``percent``) are drawn against 100 %, counts against the largest."""
    top = 1.0 if percent else max((value for _, value in items), default=0) or 1
    return [
        Bar(label, value, round(BAR_SPACE * value / top, 1), rate(value) if percent else f"{value:g}")
        for label, value in items
    ]


def unmeasured(bars: list[Bar]) -> list[Bar]:
    """The bars of rates with nothing to measure (no message sent): drawn empty and said "n/a"."""
    return [Bar(bar.label, 0.0, 0.0, "n/a") for bar in bars]


def _local_day(day: Any, hour: Any, zone: ZoneInfo) -> str:
    """The day, in ``zone``, of the UTC hour starting at ``day`` ``hour`` (as the database gives them)."""
    start = datetime.combine(date.fromisoformat(str(day)[:10]), time(int(hour)), tzinfo=UTC)
    return start.astimezone(zone).date().isoformat()


def daily(session: Session, campaign: Campaign) -> list[Day]:
    """Per day in the campaign's zone (by send time, or creation while queued): sent, delivered, failed and
    link clicks. The database counts per UTC hour (portable to SQLite and PostgreSQL) and each hour goes to
    its local day: in UTC, a Paris campaign's texts sent at 00:30 counted for the day before. In a zone
    off by a half hour, an hour's texts go to the day its first minute falls on."""
    zone = scheduling.zone(campaign.timezone)
    moment = func.coalesce(Message.sent_at, Message.created_at)
    day, hour = func.date(moment), extract("hour", moment)
    counts: dict[str, dict[str, int]] = {}
    for d, h, status, n in session.execute(
        select(day, hour, Message.status, func.count())
        .where(Message.campaign_id == campaign.id, Message.direction == "out")
        .group_by(day, hour, Message.status)
    ):
        entry = counts.setdefault(_local_day(d, h, zone), {"sent": 0, "delivered": 0, "failed": 0, "clicks": 0})
        if status in reporting.SENT_STATUSES or status in reporting.FAILED_STATUSES:
            entry["sent"] += n
        entry["delivered"] += n if status == "delivered" else 0
        entry["failed"] += n if status in reporting.FAILED_STATUSES else 0
    click_day, click_hour = func.date(LinkClick.clicked_at), extract("hour", LinkClick.clicked_at)
    for d, h, n in session.execute(
        select(click_day, click_hour, func.count()).where(LinkClick.campaign_id == campaign.id)
        .group_by(click_day, click_hour)
    ):
        counts.setdefault(_local_day(d, h, zone), {"sent": 0, "delivered": 0, "failed": 0, "clicks": 0})["clicks"] += n
    return [Day(d, c["sent"], c["delivered"], c["failed"], c["clicks"]) for d, c in sorted(counts.items())]


def day_bars(days: list[Day]) -> list[Bar]:
    """A bar per day, its texts sent, with the delivered ones as a darker stripe inside it."""
    top = max((d.sent for d in days), default=0) or 1
    return [
        Bar(d.date, d.sent, round(BAR_SPACE * d.sent / top, 1), f"{d.sent} sent, {d.delivered} delivered",
            round(BAR_SPACE * d.delivered / top, 1))
        for d in days
    ]


def charts(report: dict[str, Any], days: list[Day]) -> dict[str, Any]:
    """The chart data of a report: funnel, failures by reason, per-arm rates, per-day bars (and the days' table)."""
    totals = report["totals"]
    funnel = bars(
        [
            ("Messages", totals["messages"]),
            ("Sent", totals["sent"]),
            ("Delivered", totals["delivered"]),
            ("Clicked", totals["unique_clicks"]),
            ("Replied", totals["replies"]),
            ("Converted", totals["conversions"]),
        ]
    )
    reasons = sorted(
        [
            *((f"failed: {k}", n) for k, n in totals["failed_by_reason"].items()),
            *((f"not sent: {k}", n) for k, n in totals["rejected_by_reason"].items()),
        ],
        key=lambda item: -item[1],
    )
    arms = []
    for name, a in report["arms"].items():
        shown = bars([("Delivery rate", a["delivery_rate"] or 0.0), ("Click-through rate", a["ctr"] or 0.0),
                      ("Reply rate", a["replies"] / a["sent"] if a["sent"] else 0.0)], percent=True)
        arms.append((name, shown if a["sent"] else unmeasured(shown)))
    return {
        "funnel": funnel,
        "reasons": bars(reasons),
        "arms": arms,
        "days": days,
        "day_bars": day_bars(days),
    }


def allocation_charts(section: dict[str, Any]) -> list[tuple[str, list[Bar]]]:
    """Per variant of an adaptive test, its share of each batch's messages (the allocation over time)."""
    shares: dict[str, list[tuple[str, float]]] = {name: [] for name in section["arms"]}
    for batch in section["batches"]:
        sent = sum(n for name, n in batch["counts"].items() if name in shares)
        for name in shares:
            shares[name].append((f"Batch {batch['batch']}", batch["counts"].get(name, 0) / sent if sent else 0.0))
    return [(name, bars(items, percent=True)) for name, items in shares.items()]


@dataclass(frozen=True)
class Exclusion:
    """Recipients of a campaign who got no message for one reason: left out when the campaign was
    prepared (``skipped``), or refused by the send-time check after consent changed (``at_send``)."""

    code: str
    label: str
    skipped: int
    at_send: int


#: an A/B campaign's phases count who one phase leaves to the other (the rest held for the winner, the test
#: group passed over when the winner goes): those recipients got, or will get, a message. Listed under
#: "Recipients who got no message", a completed test of 9 read "held back 5, already texted 4".
AB_PHASES = ("holdout", "test_group")
#: an A/B metric -> the arm's count it is decided on
AB_COUNTS = {"clicks": "unique_clicks", "replies": "replies", "conversions": "conversions"}


def ab_words(campaign: Campaign, report: dict[str, Any]) -> str:
    """Where an A/B test stands, in a sentence: the rest waiting for the winner (when, in the campaign's
    zone) or the winner, with why when no arm had any success (a tie goes to the larger sample)."""
    ab = campaign.ab or {}
    if not ab or ab.get("mode") == "adaptive":
        return ""
    metric = str(ab.get("metric", "clicks"))
    if report.get("ab_winner"):
        arms = report["arms"].values()
        if any(arm["sent"] for arm in arms) and not any(arm.get(AB_COUNTS.get(metric, metric)) for arm in arms):
            return (f"A/B winner: {report['ab_winner']}, by a tie: no arm had any {metric}, so the arm with more "
                    "messages was kept.")
        return f"A/B winner: {report['ab_winner']}."
    waiting = int((report["skipped"] or {}).get("holdout", 0))
    if campaign.phase == "ab_wait" and campaign.ab_decide_at is not None and waiting:
        return (f"{counted(waiting, 'recipient waits', 'recipients wait')} for the A/B winner, chosen "
                f"{timestamp(campaign.ab_decide_at, campaign.timezone or 'UTC')} by its {metric}.")
    return ""


def exclusions(report: dict[str, Any]) -> list[Exclusion]:
    """The exclusions of a report, largest first (not the A/B phases' counts, :data:`AB_PHASES`); consent
    reasons are worded by ``contacts.consent``."""
    skipped = {code: n for code, n in (report["skipped"] or {}).items() if code not in AB_PHASES}
    refused = {k: n for k, n in report["totals"]["rejected_by_reason"].items() if k in REFUSAL_TEXT}
    rows = [
        Exclusion(code, exclusion_label(code), int(skipped.get(code, 0)), int(refused.get(code, 0)))
        for code in set(skipped) | set(refused)
    ]
    return sorted(rows, key=lambda row: (-(row.skipped + row.at_send), row.code))


def exclusion_label(code: str) -> str:
    """A reason a recipient got no message, in words."""
    text = REFUSAL_TEXT.get(code) or SKIP_LABELS.get(code) or code.replace("_", " ")
    return text[:1].upper() + text[1:]


def send_words(campaign: Campaign) -> str:
    """How many times the campaign went out to its audience, in a marketer's words, for the report's status
    line: "not sent yet", "send 3 of a repeating campaign: the figures below add up all 3 sends", nothing for
    a one-off sent once. The page said "run 0" and "run 1" (``Campaign.run``, the count of sends started)."""
    sends = campaign.run
    if sends == 0:
        return "not sent yet"
    if campaign.recurrence:
        if sends == 1:
            return "first send of a repeating campaign"
        return f"send {sends} of a repeating campaign: the figures below add up all {sends} sends"
    return "" if sends == 1 else f"sent {sends} times: the figures below add up every send"


#: the channel that sends for free (the wizard names it); which texts carry a price is ``campaigns.reporting``'s
FREE_CHANNEL = reporting.FREE_CHANNEL


def cost_words(cost_micros: int, priced: reporting.Pricing) -> tuple[str, str]:
    """The report's cost tile: the amount ("unknown" when no text said its price, "at least …" when some did
    not) and why, "" when every text said its price (or the simulator sent them all: the page says so)."""
    if priced.simulated or not priced.unpriced:
        return money(cost_micros), ""
    texts = counted(priced.unpriced, "text")
    if not cost_micros:
        return "unknown", f"the provider reported no price for the {texts} sent"
    return f"at least {money(cost_micros)}", f"the provider reported no price for {texts}"


def _report_context(session: Session, campaign: Campaign, principal: Principal) -> dict[str, Any]:
    report = report_export.full_report(session, campaign, now=utcnow())
    adaptive = report.get("adaptive")
    priced = reporting.pricing(session, campaign)
    return {
        "adaptive": adaptive,
        "allocation": allocation_charts(adaptive) if adaptive else [],
        "campaign": campaign,
        "report": report,
        "exclusions": exclusions(report),
        "ab_words": ab_words(campaign, report),
        "send_words": send_words(campaign),
        "forecast_runs": forecast_runs(report.get("forecast"),
                                       sending=campaign.run if campaign.status in SENDING_STATUSES else None,
                                       admin=principal.role == Role.ADMIN, simulated=priced.simulated,
                                       unpriced=priced.unpriced),
        "simulated": priced.simulated,
        # a text without a link has no click-through rate: its "0.0 %" read as a text nobody wanted
        "linkless": forecasting.clickable(session, campaign) == 0,
        "cost": cost_words(report["totals"]["cost_micros"], priced),
        "arm_costs": {name: cost_words(arm["cost_micros"], replace(priced, unpriced=arm["unpriced_messages"]))
                      for name, arm in report["arms"].items()},
        "charts": charts(report, daily(session, campaign)),
        "revenue_currency": forecasting.money(session).revenue,
        "live": campaign.status in LIVE_STATUSES,
        "sending_statuses": SENDING_NOW,
        "actions": STATE_ACTIONS.get(campaign.status, ()),
        "state_words": state_words(campaign),
        "unstarted": unstarted(campaign),
        "preparing": preparing(campaign),
        "texts_sent": texts_sent(session, campaign),
        "refresh_seconds": REFRESH_SECONDS,
        "updated_at": utcnow(),
    }


@dataclass(frozen=True)
class TextSent:
    """Who among a campaign's recipients gets which template (``template`` None: it no longer exists)."""

    who: str
    template_id: int
    template: Template | None


def texts_sent(session: Session, campaign: Campaign) -> list[TextSent]:
    """The templates a campaign sends (``campaigns.texts_sent``), each with its recipients in words: "Arm A",
    "Recipients in French", "Everyone else", "Every recipient". Neither the page nor the report said which text
    went out, nor to whom a French translation went."""
    return [TextSent(_who(choice), choice.template_id, choice.template)
            for choice in campaign_texts.choices(session, campaign)]


def _who(choice: campaign_texts.TextChoice) -> str:
    if choice.arm is not None:
        return f"Arm {choice.arm}"
    if choice.language is not None:
        return f"Recipients in {language_name(choice.language)}"
    return "Everyone else" if choice.translated else "Every recipient"


def unstarted(campaign: Campaign) -> bool:
    """Scheduled, or paused from there: no run is under way (``campaigns.service.resume`` sends it back to
    scheduled), so its next planned send still holds."""
    return campaign.status in ("scheduled", "paused") and not campaign.phase


def preparing(campaign: Campaign) -> bool:
    """Its run's preparation is under way or was paused part-way (``campaigns.service.resume`` continues it)."""
    return campaign.status in ("preparing", "paused") and campaign.phase in ("main", "holdout")


def prepared_words(campaign: Campaign) -> str:
    """How many messages the current run prepared: "12 messages were prepared", "no message was prepared"."""
    if not campaign.prepared:
        return "no message was prepared"
    return counted(campaign.prepared, "message was prepared", "messages were prepared")


def state_words(campaign: Campaign) -> tuple[str, str]:
    """Where the campaign stands, then what a marketer can do about it (``STATE_WORDS``, ``PAUSED_UNSTARTED``,
    ``PAUSED_PREPARING``)."""
    if campaign.status == "paused" and unstarted(campaign):
        first, then = PAUSED_UNSTARTED
        return first.format(run="its next run" if campaign.run else "it started"), then
    if campaign.status == "paused" and preparing(campaign):
        first, then = PAUSED_PREPARING
        return first.format(prepared=prepared_words(campaign)), then
    return STATE_WORDS.get(campaign.status, ("", ""))


def money(micros: int, currency: str | None = None) -> str:
    """An amount from micro-units with its currency code: the SMS provider's prices' by default (costs),
    else ``currency`` (a conversion value is in the orders'; "" when no order names one). A bare
    "Cost 0.25" beside a forecast in EUR left the marketer to guess."""
    code = get_settings().sms_price_currency if currency is None else currency
    return f"{micros / 1_000_000:,.2f} {code}".strip()


def rate(value: float | None, base: int | None = None) -> str:
    """A rate as a percentage (a no-break space keeps "33.3 %" on one line in narrow table cells); "n/a" when
    it is undefined (``None``) or its ``base`` (the messages it is a share of) is 0: a campaign that sent
    nothing yet read "0.0 %"."""
    return "n/a" if value is None or (base is not None and not base) else f"{value * 100:.1f}\u00a0%"


def timestamp(value: datetime | str | None, zone: str = "UTC", *, seconds: bool = False) -> str:
    """A stored UTC moment (a datetime, or ISO text as the report gives it) in the campaign's zone,
    named: the shop reads its own clock ("2026-11-29 23:13 (Europe/Paris)"), not UTC's."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(scheduling.zone(zone))
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} ({zone})"


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    state: str = Query("", pattern="^(" + "|".join(STATES) + ")?$"),
    q: str = Query("", max_length=200),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> HTMLResponse:
    """The latest campaigns with status and headline figures, filtered by state and by words of their name."""
    stmt = select(Campaign).order_by(Campaign.id.desc()).limit(LIST_LIMIT)
    if state:
        stmt = stmt.where(Campaign.status == state)
    if q.strip():
        stmt = stmt.where(func.lower(Campaign.name).contains(q.strip().lower(), autoescape=True))
    campaigns = session.scalars(stmt).all()
    priced = reporting.pricings(session, [c.id for c in campaigns])
    rows = []
    for c in campaigns:  # the cost as the report reads it: "unknown" when the provider said no price (SMPP)
        figures = reporting.summary(session, c.id)
        rows.append((c, figures, cost_words(figures["cost_micros"], priced[c.id])))
    return render(
        request,
        "console/campaigns.html",
        {
            "rows": rows,
            "limit": LIST_LIMIT,
            "states": STATES,
            "state": state,
            "q": q,
            "may_write": principal.role in (Role.MARKETER, Role.ADMIN),
            "status": views.agent_status(session, principal),
            "money": money,
            "percent": rate,
            "timestamp": timestamp,
        },
        principal=principal,
    )


DONE = {
    "scheduled": "The campaign is scheduled.",
    "paused": "The campaign is paused: its queued messages wait.",
    "resumed": "The campaign is resumed: queued messages are re-planned from now.",
    "cancelled": "The campaign is cancelled: messages still queued will not be sent.",
}
#: the same for a campaign with no run under way: it has nothing queued, and it keeps its planned send time
UNSTARTED_DONE = {
    "paused": "The campaign is paused before its send: it does not start until you resume it.",
    "resumed": "The campaign is resumed: it starts at its planned send time, at once if that time has passed.",
}
#: the same for a campaign paused, or resumed, part-way through its preparation
PREPARING_DONE = {
    "paused": "The campaign is paused part-way through its preparation: {prepared}, and they wait; nothing more is "
              "prepared until you resume it.",
    "resumed": "The campaign is resumed: its preparation continues from where it stopped, and the messages prepared "
               "before are re-planned from now.",
}
#: "scheduled" for a campaign confirmed to go now: it has started, and "scheduled" read as if it waited for a date
STARTED = "The campaign has started: its texts go out as their sending hours allow (see “Waiting to be sent”)."


def done_words(done: str, campaign: Campaign) -> str:
    """The line confirming what was just done, as the campaign stands now (``DONE``; "" for an unknown one).
    Once it has finished, none: the page that follows the campaign reloads itself with the same address, and a
    completed campaign said "The campaign has started: its texts go out…"."""
    if done == "scheduled" and campaign.status in ("completed", "cancelled"):
        return ""
    if done == "scheduled" and campaign.status not in ("scheduled", "draft"):
        return STARTED
    if done in UNSTARTED_DONE and unstarted(campaign):
        return UNSTARTED_DONE[done]
    if done in PREPARING_DONE and preparing(campaign):
        return PREPARING_DONE[done].format(prepared=prepared_words(campaign))
    return DONE.get(done, "")


@router.get("/campaigns/{campaign_id:int}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    campaign_id: int,
    done: str = "",
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> HTMLResponse:
    """The full report of one campaign, with export links and a live-refreshed report part."""
    campaign = service.get_campaign(session, campaign_id)
    context = _report_context(session, campaign, principal)
    context |= {
        "status": views.agent_status(session, principal),
        "done": done_words(done, campaign),
        "may_write": principal.role in (Role.MARKETER, Role.ADMIN),
        "money": money,
        "percent": rate,
        "timestamp": timestamp,
    }
    return render(request, "console/campaign.html", context, principal=principal)


@router.get("/campaigns/{campaign_id:int}/live", response_class=HTMLResponse)
def campaign_fragment(
    request: Request,
    campaign_id: int,
    shown: str = Query("", max_length=20),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> HTMLResponse:
    """The report part of the campaign page (HTMX polls it while the campaign is scheduled or sending).

    ``shown`` is the state the page was drawn in: once the campaign is in another one, the answer is an
    ``HX-Refresh`` instead, so the whole page (where it stands, what can be done) follows, not the report alone.
    """
    campaign = service.get_campaign(session, campaign_id)
    if shown and shown != campaign.status:
        return HTMLResponse("", headers={"HX-Refresh": "true"})
    context = _report_context(session, campaign, principal)
    context |= {"money": money, "percent": rate, "timestamp": timestamp}
    return render(request, "console/_campaign_report.html", context, principal=principal)
