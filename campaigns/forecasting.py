"""A campaign's forecast: built from what campaigns knows, made by ``intelligence.forecast``, kept at schedule.

Inputs (intelligence cannot read campaigns, so they are passed as plain values):

* the audience as preparation would select it now, less an adaptive campaign's control share
  (:func:`texted`), and the message's segments and price (``campaigns.preview.estimate``: the A/B
  cost range's midpoint per message);
* whose texts hold a link (:func:`clickable`: only links written in a template are tracked, so a text
  without one is forecast no click) and, per past run, its conversions by recipients who did not click;
* the recipients' stored ``purchase_90d`` predictions (``intelligence.store``) and their mean order value
  (:func:`order_values`: orders not cancelled, in revenue's currency);
* the currencies (:func:`money`): revenue's is the shop's (``campaigns.shop_currency``: the most common
  among its latest orders that name one; one shop sells in one currency), cost's is
  ``RELAIS_SMS_PRICE_CURRENCY``, and the rate between them from ``RELAIS_EXCHANGE_RATES`` if configured;
* the last :data:`PAST_CAMPAIGNS` finished runs (:func:`recent_runs`: a one-off campaign is one run;
  a recurring campaign, which never reaches ``completed`` while runs remain, gives each run it
  finished): their counts from the run's report (``reporting.run_summary``: sent, delivered, unique
  clickers, conversions; a run without any delivery report counts its sent messages as delivered,
  as its report's CTR does), the values of the conversions that report counts, and the mean
  purchase probability of their recipients.

:func:`record` stores a forecast per run: when a campaign is scheduled (for its next run), and as
a run starts without one (``campaigns.flows.start_run``: each later run of a recurring campaign, from
the audience and predictions of that moment; a campaign scheduled by the CLI). :func:`view` answers
``GET /api/v1/campaigns/{id}/forecast``: computed now for a draft, afterwards each run's stored
forecast beside that run's actual figures (:func:`versus_actual`, ``reporting.run_summary``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, func, select, union
from sqlalchemy.orm import Session

from campaigns import adaptive, preview, reporting
from campaigns.links import URL_PATTERN
from campaigns.models import Campaign, CampaignForecast, Conversion, LinkClick, Template
from campaigns.scheduling import aware
from campaigns.shop_currency import shop_currency
from contacts.models import Contact, Order, Prediction
from conversations.models import Message
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings
from core.sql import among
from intelligence.forecast import Forecast, Inputs, Money, PastCampaign, forecast

log = logging.getLogger(__name__)

#: how many finished runs (a one-off campaign is one run) the forecast learns its rates from
PAST_CAMPAIGNS = 20
_CHUNK = 5000
_PAGE = 50
#: forecast figure -> how the campaign report's totals give its actual value
ACTUALS: dict[str, str] = {"delivered": "delivered", "clicks": "unique_clicks", "conversions": "conversions",
                           "revenue_micros": "conversion_value_micros", "cost_micros": "cost_micros"}


def finished_runs(campaign: Campaign) -> range:
    """The runs of ``campaign`` whose sending is over (``campaigns.flows.check_completion`` stamps
    ``completed_at``): every run before the current one, since a run starts only once the previous one
    completed, and the current one when it completed after it started. A one-off campaign has one run;
    a recurring one never reaches ``completed`` while runs remain, yet each finished run is history."""
    if campaign.run < 1 or campaign.completed_at is None:
        return range(0)
    started = campaign.run_started_at
    current_done = started is None or aware(campaign.completed_at) >= aware(started)
    return range(1, campaign.run + 1 if current_done else campaign.run)


def recent_runs(session: Session, *, exclude: int | None) -> list[tuple[Campaign, int]]:
    """The last :data:`PAST_CAMPAIGNS` finished runs (:func:`finished_runs`) of campaigns other than
    ``exclude`` that created messages, latest first by their first message.

    Campaigns are read by ``completed_at`` (their latest finished run's end), newest first, and a run's
    first message precedes its campaign's ``completed_at``: reading stops once the runs kept all began
    after the next campaign's ``completed_at``, and a campaign's runs, newest first, once one began before
    the oldest kept.
    """
    kept: list[tuple[datetime, int, int, Campaign]] = []

    def floor() -> datetime | None:
        return kept[PAST_CAMPAIGNS - 1][0] if len(kept) >= PAST_CAMPAIGNS else None

    for campaign, completed in _by_latest_finish(session, exclude):
        oldest = floor()
        if oldest is not None and completed < oldest:
            break
        for run in reversed(finished_runs(campaign)):
            began = reporting.first_message(session, campaign.id, run)
            if began is None:
                continue
            if oldest is not None and began < oldest:
                break
            kept.append((began, campaign.id, run, campaign))
            kept.sort(key=lambda k: k[:3], reverse=True)
            oldest = floor()
    return [(campaign, run) for _, _, run, campaign in kept[:PAST_CAMPAIGNS]]


def _by_latest_finish(session: Session, exclude: int | None) -> Iterator[tuple[Campaign, datetime]]:
    """Campaigns with a finished run and when it finished, newest first, read a page at a time."""
    query = (select(Campaign).where(Campaign.completed_at.is_not(None), Campaign.id != (exclude or 0))
             .order_by(Campaign.completed_at.desc(), Campaign.id.desc()).limit(_PAGE))
    for offset in itertools.count(0, _PAGE):
        page = session.scalars(query.offset(offset)).all()
        yield from ((campaign, aware(campaign.completed_at)) for campaign in page if campaign.completed_at)
        if len(page) < _PAGE:
            return


def _past(session: Session, exclude: int | None) -> tuple[list[PastCampaign], list[int], float | None]:
    """The recent finished runs that sent anything, as the forecast reads them: each run's counts from its
    report (``reporting.run_summary``), the values of the conversions those reports count, and the mean
    purchase probability of their recipients."""
    past: list[PastCampaign] = []
    values: list[int] = []
    recipients: list[Select[int]] = []
    for campaign, run in recent_runs(session, exclude=exclude):
        totals = reporting.run_summary(session, campaign, run)
        if not totals["sent"]:
            continue
        group, window = (reporting.RUN, str(run)), reporting.run_window(session, campaign, run)
        counted = reporting.counted_conversions(campaign.id, group, window)
        unclicked = _unclicked(session, reporting.counted_clicks(campaign.id, group, window), counted)
        past.append(PastCampaign(sent=totals["sent"], delivered=totals["delivered"] or totals["sent"],
                                 clicked=totals["unique_clicks"], converted=totals["conversions"],
                                 converted_unclicked=unclicked))
        values += [int(v) for v in session.scalars(
            select(Conversion.value_micros).where(counted, Conversion.value_micros > 0).order_by(Conversion.id))]
        recipients.append(reporting.recipients(campaign.id, group))
    if not recipients:
        return past, values, None
    mean = session.scalar(select(func.avg(Prediction.value)).where(
        Prediction.kind == "purchase_90d", Prediction.contact_id.in_(union(*recipients))))
    return past, values, float(mean) if mean is not None else None


def _unclicked(session: Session, clicked: ColumnElement[bool], counted: ColumnElement[bool]) -> int:
    """How many of the ``counted`` conversions are by a recipient none of whose ``clicked`` clicks the report
    counts: what a text without a link can still cause. A conversion without a contact cannot be told apart
    from a click's."""
    clickers = select(LinkClick.contact_id).where(clicked)
    return int(session.scalar(select(func.count()).select_from(Conversion).where(
        counted, Conversion.contact_id.is_not(None), Conversion.contact_id.not_in(clickers))) or 0)


def clickable(session: Session, campaign: Campaign, recipients: list[int] | None = None) -> float:
    """The share of recipients whose text holds a link written in its template, the only links tracked
    (``campaigns.links``): an A/B or adaptive test's arms by weight (an arm naming no template sends the
    campaign's), else per recipient's language, as preparation picks the text: the campaign's translation for
    that language, else its template. ``recipients`` are the contacts to be texted (the forecast's); without
    them, the contacts the campaign texted (the report's), or, before any text, 1 when any of its templates
    links. An English template without a link whose French translation has one forecast 0 clicks for its
    French recipients' tracked links (and the other way round, clicks nobody could make)."""
    arms = (campaign.ab or {}).get("arms") or []
    if arms:  # translations apply to the single-template campaign only (campaigns.prepare._arms)
        specs = [(int(a.get("template_id") or campaign.template_id), float(a.get("weight", 1))) for a in arms]
        total = sum(weight for _, weight in specs)
        if total <= 0:
            return 1.0
        return sum(weight for template_id, weight in specs if _links(session, template_id)) / total
    main = _links(session, campaign.template_id)
    linked = {language: _links(session, int(template_id))
              for language, template_id in (campaign.translations or {}).items()}
    if all(has == main for has in linked.values()):
        return float(main)
    by_language = _languages(session, campaign, recipients)
    total = sum(by_language.values())
    if not total:
        return 1.0
    return sum(n for language, n in by_language.items() if linked.get(language or "", main)) / total


def _links(session: Session, template_id: int) -> bool:
    template = session.get(Template, template_id)
    return template is not None and URL_PATTERN.search(template.body) is not None


def _languages(session: Session, campaign: Campaign, recipients: list[int] | None) -> dict[str | None, int]:
    """Recipients per language: of ``recipients``, or of the contacts ``campaign`` texted when None."""
    if recipients is None:
        rows = session.execute(
            select(Contact.language, func.count(func.distinct(Message.contact_id)))
            .join(Message, Message.contact_id == Contact.id)
            .where(Message.campaign_id == campaign.id).group_by(Contact.language))
        return {language: int(n) for language, n in rows}
    found: dict[str | None, int] = {}
    for start in range(0, len(recipients), _CHUNK):
        for language, n in session.execute(
                select(Contact.language, func.count()).where(
                    among(Contact.id, recipients[start:start + _CHUNK], session.get_bind().dialect.name))
                .group_by(Contact.language)):
            found[language] = found.get(language, 0) + int(n)
    return found


def _purchase_chances(session: Session, contact_ids: list[int]) -> np.ndarray:
    """Each recipient's current purchase probability (``nan`` when not predicted)."""
    found: dict[int, float] = {}
    for start in range(0, len(contact_ids), _CHUNK):
        rows = session.execute(
            select(Prediction.contact_id, Prediction.value)
            .where(Prediction.kind == "purchase_90d",
                   among(Prediction.contact_id, contact_ids[start:start + _CHUNK], session.get_bind().dialect.name))
            .order_by(Prediction.computed_at, Prediction.id)
        )
        for contact_id, value in rows:  # oldest first: the newest wins
            found[contact_id] = float(value)
    return np.array([found.get(i, np.nan) for i in contact_ids], dtype=float)


def order_values(session: Session, contact_ids: list[int], currency: str) -> np.ndarray:
    """Each recipient's mean order value in ``currency`` (units; orders not cancelled, of a positive total;
    ``nan`` without one). What one conversion is worth for that customer: their predicted 90-day spend ÷
    purchase chance is what a buyer spends in 90 days, 45 orders' worth for a demo customer ordering
    every other day (the demo's forecast read +174,102 % on 0.45 EUR of texts)."""
    found: dict[int, float] = {}
    valid = select(Order.contact_id, func.avg(Order.total_micros)).where(
        Order.cancelled_at.is_(None), Order.status != "cancelled", Order.total_micros > 0)
    if currency:
        valid = valid.where(Order.currency == currency)
    for start in range(0, len(contact_ids), _CHUNK):
        rows = session.execute(valid.where(
            among(Order.contact_id, contact_ids[start:start + _CHUNK], session.get_bind().dialect.name)
        ).group_by(Order.contact_id))
        for contact_id, mean in rows:
            found[contact_id] = float(mean) / 1_000_000
    return np.array([found.get(i, np.nan) for i in contact_ids], dtype=float)


#: the simulations' seed, one for every campaign: seeded by the campaign's id, the wizard's review of a campaign not
#: saved yet (no id) and the forecast stored when it was confirmed a moment later drew differently, so the page read
#: other figures than the review had promised (revenue 18.12 EUR in the review, 19.73 EUR on the page)
SEED = 0


def texted(campaign: Campaign, contact_ids: list[int]) -> list[int]:
    """The recipients a message will go to: an adaptive campaign holds ``control_share`` of its audience
    back with no message (``campaigns.adaptive``), so a seeded random draw of the rest stands for them
    (which contacts the bandit holds back is not known before it runs)."""
    if not adaptive.is_adaptive(campaign) or not contact_ids:
        return contact_ids
    keep = len(contact_ids) - round(len(contact_ids) * float(campaign.ab["control_share"]))
    drawn = np.random.default_rng(SEED).choice(len(contact_ids), size=keep, replace=False)
    return [contact_ids[i] for i in sorted(drawn)]


def money(session: Session) -> Money:
    """Revenue's currency (the shop's, ``shop_currency``; "" when no order names one), cost's (the SMS
    price's), and the configured rate from the first to the second, if any."""
    revenue = shop_currency(session)
    settings = get_settings()
    cost = settings.sms_price_currency
    return Money(revenue, cost, settings.exchange_rate_table.get((revenue, cost)))


def inputs_for(session: Session, campaign: Campaign, estimate: preview.Estimate) -> Inputs:
    """The forecast's inputs for ``campaign`` (saved or not) whose review is ``estimate``."""
    ids = texted(campaign, [contact_id for contact_id, _, _ in estimate.audience.recipients])
    currencies = money(session)
    past, values, past_purchase = _past(session, campaign.id)
    cost = (estimate.cost_low_micros + estimate.cost_high_micros) / 2
    per_message = cost / estimate.price.micros / len(ids) if ids and estimate.price.micros else 1.0
    return Inputs(purchase_p=_purchase_chances(session, ids),
                  order_value=order_values(session, ids, currencies.revenue), segments_per_message=per_message,
                  price_micros=estimate.price.micros, past=past, conversion_values_micros=values,
                  past_purchase_p=past_purchase, money=currencies, clickable=clickable(session, campaign, ids))


def forecast_for(session: Session, campaign: Campaign, estimate: preview.Estimate) -> Forecast:
    """The forecast of ``campaign`` given its review (:data:`SEED`: the same data, the same figures)."""
    return forecast(inputs_for(session, campaign, estimate), seed=SEED)


def compute(session: Session, campaign: Campaign, *, now: datetime) -> Forecast:
    """The forecast of ``campaign`` were it sent now.

    Raises:
        NotFound, ValidationFailed: as ``campaigns.preview.estimate`` (a template or segment gone).
    """
    return forecast_for(session, campaign, preview.estimate(session, campaign, start=now, now=now))


def record(session: Session, campaign: Campaign, *, now: datetime, run: int) -> CampaignForecast | None:
    """Store the forecast of ``campaign``'s ``run`` made now; ``None`` (logged) if it cannot be estimated,
    which never stops the schedule or the run: the forecast is advice. A later one for the same run
    (the campaign scheduled again) replaces it in the report."""
    try:
        made = compute(session, campaign, now=now)
    except (NotFound, ValidationFailed) as exc:
        log.warning("no forecast stored for campaign %s run %s: %s", campaign.id, run, exc)
        return None
    row = CampaignForecast(campaign_id=campaign.id, run=run, made_at=now, forecast=made.as_dict())
    session.add(row)
    session.flush()
    return row


def record_if_missing(session: Session, campaign: Campaign, *, now: datetime) -> CampaignForecast | None:
    """As a run starts: store its forecast unless one was stored for it at schedule (the first run).

    Any failure of the forecast is logged and the run starts without one: this runs in the scheduler's
    sweep, where an error would hold up every due campaign, and the forecast is advice.
    """
    if stored(session, campaign.id, run=campaign.run) is not None:
        return None
    try:
        with session.begin_nested():  # a failure leaves nothing half-written behind
            return record(session, campaign, now=now, run=campaign.run)
    except Exception:
        log.exception("no forecast stored for campaign %s run %s", campaign.id, campaign.run)
        return None


def stored(session: Session, campaign_id: int, *, run: int | None = None) -> CampaignForecast | None:
    """The latest forecast stored for the campaign's ``run`` (any run when ``None``), if any."""
    stmt = select(CampaignForecast).where(CampaignForecast.campaign_id == campaign_id)
    if run is not None:
        stmt = stmt.where(CampaignForecast.run == run)
    return session.scalar(stmt.order_by(CampaignForecast.made_at.desc(), CampaignForecast.id.desc()).limit(1))


def _latest_per_run(session: Session, campaign_id: int) -> list[CampaignForecast]:
    latest: dict[int, CampaignForecast] = {}
    for row in session.scalars(select(CampaignForecast).where(CampaignForecast.campaign_id == campaign_id)
                               .order_by(CampaignForecast.made_at, CampaignForecast.id)):
        latest[row.run] = row  # oldest first: the newest of a run wins
    return [latest[run] for run in sorted(latest)]


def versus_actual(made: Forecast, totals: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per figure: the forecast, the actual value, and whether it fell inside the 80 % and 95 % intervals
    (``None`` where either side is unknown: a revenue not forecast, an ROI without cost or between two
    currencies with no rate, a run not started (``totals`` ``None``), a cost with texts the provider did not
    price (``cost_complete`` false: the actual cost is only a floor, the ROI a ceiling)). The actual ROI
    converts revenue as the forecast did (its currencies and rate), so the two are compared in one currency."""
    actual: dict[str, float | None] = {}
    if totals is not None:
        actual = {name: float(totals.get(key, 0)) for name, key in ACTUALS.items()}
        cost, revenue, factor = actual["cost_micros"], actual["revenue_micros"], made.money.factor
        actual["roi"] = (revenue * factor - cost) / cost if cost and revenue is not None and factor else None
    rows = []
    for name, figure in made.figures.items():
        value = actual.get(name)
        inside: tuple[bool | None, bool | None] = (None, None)
        priced = totals is None or totals.get("cost_complete", True) or name not in ("cost_micros", "roi")
        if figure is not None and value is not None and priced:
            inside = (figure.covers(value, 0.8), figure.covers(value, 0.95))
        rows.append({"metric": name, "forecast": figure.as_dict() if figure is not None else None, "actual": value,
                     "within80": inside[0], "within95": inside[1]})
    return rows


def comparison(session: Session, campaign: Campaign) -> dict[str, Any] | None:
    """Each run's stored forecast beside that run's actual figures (``runs``, oldest first; a run not yet
    started has no actual figures, ``None``), the latest run's also at the top level (``run``, ``made_at``,
    ``sources``, ``metrics``); ``None`` when no forecast was stored."""
    runs = []
    for row in _latest_per_run(session, campaign.id):
        made = Forecast.from_dict(row.forecast)
        actual = reporting.run_summary(session, campaign, row.run) if row.run <= campaign.run else None
        runs.append({"run": row.run, "made_at": row.made_at.isoformat(), "sources": made.sources,
                     **made.money.as_dict(), "clickable": made.clickable, "metrics": versus_actual(made, actual)})
    if not runs:
        return None
    return {**runs[-1], "runs": runs}


def view(session: Session, campaign: Campaign, *, now: datetime) -> dict[str, Any]:
    """``GET /campaigns/{id}/forecast``: a draft's forecast computed now; afterwards the stored one with actuals."""
    if campaign.status == "draft":
        made = compute(session, campaign, now=now)
        return {"campaign_id": campaign.id, "status": campaign.status, "computed_at": now.isoformat(),
                **made.as_dict()}
    compared = comparison(session, campaign)
    if compared is None:
        return {"campaign_id": campaign.id, "status": campaign.status, "stored": False,
                "reason": "no forecast was stored when this campaign was scheduled"}
    return {"campaign_id": campaign.id, "status": campaign.status, "stored": True, **compared}
