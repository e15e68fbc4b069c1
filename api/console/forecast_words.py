"""The campaign forecast in words: the wizard review's facts (with the uplift planner's line) and the
report's forecast-vs-actual rows.

The figures come from ``campaigns.forecasting`` (``intelligence.forecast``); this module only
formats them: counts as whole numbers (with a decimal under 10, so 0.09 expected conversions is not
"0" beside a revenue), money from micro-units with its currency, ROI as a percentage up to
:data:`ROI_SHOWN_UP_TO` (beyond, the ROI line sets the cost beside the revenue expected instead of a ratio: a few
cents of texts against a predicted order read "+174,102%", then "over +1,000%", true by the arithmetic and no guide
to anything, :func:`cost_note`); a
figure not forecast is "n/a" with the forecast's reason when it gives one (an ROI between two
currencies with no configured rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from campaigns import uplift_targeting
from intelligence.forecast import PRIORS, Figure, Forecast, Money

LABELS = {"delivered": "Delivered", "clicks": "Clicks (unique)", "conversions": "Conversions",
          "revenue_micros": "Revenue", "cost_micros": "Cost", "roi": "Return on cost (ROI)"}
#: why no ROI is forecast when no revenue is: the ROI row said a bare "n/a" (the revenue's reason is under "Based on")
NO_REVENUE = "no revenue forecast to set against the cost"
#: an ROI above this (+1,000 %) is shown as "over +1,000%": the cost is then too small beside the
#: revenue for the ratio to say more than "cheap", and its digits moved with every cent of either
ROI_SHOWN_UP_TO = 10.0


def _value(metric: str, value: float, currency: str = "") -> str:
    if metric.endswith("_micros"):
        return f"{value / 1_000_000:,.2f} {currency}".strip()
    if metric == "roi":
        return f"over {ROI_SHOWN_UP_TO:+,.0%}" if value > ROI_SHOWN_UP_TO else f"{value:+,.0%}"
    if value != int(value) and abs(value) < 10:
        return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"
    return f"{value:,.0f}"


def cost_note(revenue: Figure | None, cost: Figure | None, money: Money) -> str:
    """The ROI line when the cost is negligible beside the revenue (an ROI over :data:`ROI_SHOWN_UP_TO`): the two
    amounts side by side instead of a ratio (the revenue's range is in its own row); "" otherwise. "over +1,000%"
    led the line, a true mean that said nothing a marketer could act on: a few cents of texts against a revenue that
    is 0 in most outcomes."""
    if revenue is None or cost is None:
        return ""
    expected, spent = revenue.expected * (money.factor or 0.0), cost.expected
    if not spent or expected - spent <= ROI_SHOWN_UP_TO * spent:
        return ""
    # the revenue's intervals and "the average is above the 80 % range…" are the Revenue row's, just above: said
    # again here they made the cell some 60 words
    cost_text = _value("cost_micros", spent, money.cost)
    return (f"not a useful ratio here: the texts cost {cost_text} against "
            f"{_value('revenue_micros', revenue.expected, money.revenue)} of revenue expected (its range under "
            f"{LABELS['revenue_micros']}); any sale pays for them many times over, no sale loses the {cost_text}, so "
            "judge the campaign on its conversions and revenue")


def _span(metric: str, low: float, high: float) -> str:
    """A range as shown: one value when both ends read the same ("80 %: -100%", not "-100%–-100%"),
    "to" between ends with a sign ("-100% to over +1,000%": "-100%–+950%" read as a subtraction)."""
    start, end = _value(metric, low), _value(metric, high)
    if start == end:
        return start
    return f"{start} to {end}" if min(low, high) < 0 or metric == "roi" else f"{start}–{end}"


def _no_sale(metric: str, high: float) -> bool:
    """Whether outcomes up to ``high`` hold no sale: no conversion, no revenue, or an ROI of -100 %."""
    return (metric in ("conversions", "revenue_micros") and high <= 0) or (metric == "roi" and high <= -1)


def _above(metric: str, high: float, share: str) -> str:
    """The average above the ``share`` range, said (a rare large order lifts the mean above what usually happens)."""
    if _no_sale(metric, high):
        # "0.09 conversions … a few outcomes are much larger" did not say that most outcomes are no sale
        return f"the average is above the {share} range: most simulated outcomes have no sale, a few have one"
    return f"the average is above the {share} range: a few simulated outcomes are much larger"


def _figure(metric: str, figure: Figure, currency: str = "") -> str:
    if figure.low95 == figure.high95:
        if figure.expected == figure.low95 or _value(metric, figure.expected) == _value(metric, figure.low95):
            return _value(metric, figure.expected, currency)  # known before sending (cost): a point
        # a rare sale on a small audience: 19 outcomes in 20 have none, and "Revenue 7.93 EUR", "ROI over +1,000%"
        # were shown alone, as if certain
        return (f"{_value(metric, figure.expected, currency)} (80 % and 95 %: {_value(metric, figure.low95)}); "
                + _above(metric, figure.high95, "95 %"))
    text = (f"{_value(metric, figure.expected, currency)} (80 %: {_span(metric, figure.low80, figure.high80)}; "
            f"95 %: {_span(metric, figure.low95, figure.high95)})")
    if figure.expected > figure.high80 and _value(metric, figure.expected) != _value(metric, figure.high80):
        return f"{text}; {_above(metric, figure.high80, '80 %')}"  # or the figures contradict each other
    return text


def prior_words(clickable: float = 1.0) -> str:
    """What "population prior" means, with the rates assumed before any past campaign (with the rate of buying
    without clicking when some recipients' text has no link: ``clickable`` below 1)."""
    rates = (f"{PRIORS['delivery'] * 100:.0f} % delivered, {PRIORS['click'] * 100:.0f} % clicked, "
             f"{PRIORS['conversion'] * 100:.0f} % bought")
    if clickable < 1:
        rates += f", {PRIORS['conversion_without_click'] * 100:.1f} % bought without clicking"
    return f"no past campaign to learn from yet, so typical SMS rates are assumed ({rates})"


def for_reader(text: str, money: Money, *, admin: bool) -> str:
    """``text`` with the exchange-rate hint an administrator acts on (the setting's name) put in words for
    everyone else: a marketer read "set RELAIS_EXCHANGE_RATES", a server setting they can neither see nor
    change. The forecast stores the admin's wording; this swaps the same ``Money``'s sentences."""
    if admin or not money.mixed:
        return text
    text = text.replace(money.not_comparable, f"revenue is in {money.revenue} and cost in {money.cost}, and no "
                                              "exchange rate between them is set yet: an administrator can add one")
    if money.rate is not None:
        text = text.replace(money.conversion, f"revenue converted at 1 {money.revenue} = {money.rate:g} "
                                              f"{money.cost} (the exchange rate an administrator set)")
    return text


def _missing(metric: str, sources: dict[str, str], figures: dict[str, Any]) -> str:
    """ "n/a", with why when it is ROI (other figures' reasons are under "Based on"): between currencies with no
    configured rate, without a revenue forecast, or without a cost to divide by (it read a bare "n/a")."""
    if metric != "roi":
        return "n/a"
    reason = sources.get("roi", "")
    if not reason:
        reason = (NO_REVENUE if figures.get("revenue_micros") is None
                  else "no cost to divide the revenue by: the texts are estimated to cost nothing")
    return f"n/a: {reason}"


def basis(sources: dict[str, str]) -> str:
    """What each figure rests on, in one line ("delivered: population prior; …")."""
    return "; ".join(f"{LABELS.get(k, k).lower()}: {v}" for k, v in sources.items())


#: why a text without a link forecasts no click: a bare "0" beside the other figures read as a poor forecast
NO_LINK = "no link in the text, so nobody can click it (add one to the template to count clicks)"


def _unclickable(metric: str, clickable: float) -> str:
    """The clicks' note when no recipient's text holds a link ("" otherwise)."""
    return f": {NO_LINK}" if metric == "clicks" and clickable <= 0 else ""


def facts(made: Forecast, *, admin: bool = False) -> dict[str, str]:
    """Label → expected value with its intervals, then what the forecast rests on (``admin``: the
    exchange-rate hint names the setting, see :func:`for_reader`)."""
    out = {LABELS[k]: (_figure(k, f, made.money.currency_of(k)) + _unclickable(k, made.clickable) if f is not None
                       else _missing(k, made.sources, made.figures)) for k, f in made.figures.items()}
    note = cost_note(made.figures.get("revenue_micros"), made.figures.get("cost_micros"), made.money)
    if note:
        out[LABELS["roi"]] = note
    out["Based on"] = basis(made.sources)
    if any("population prior" in source for source in made.sources.values()):
        out["Population prior"] = prior_words(made.clickable)
    return {label: for_reader(text, made.money, admin=admin) for label, text in out.items()}


def uplift_fact(session: Session, contact_ids: list[int]) -> dict[str, str]:
    """The planner's line on "only contacts the message is likely to change": what it would keep, or why
    it is not offered yet (checking the stored model only: training is ``POST /campaigns/uplift/score``)."""
    label = "Only contacts the message is likely to change"
    model = uplift_targeting.latest_model(session)
    if model is None:
        return {label: "not offered yet: no uplift model has been trained on a past campaign with a control group"}
    plan = uplift_targeting.planner(session, contact_ids)
    return {label: f"would keep {plan['targeted']} of {plan['audience']} recipients, "
                   f"{plan['expected_incremental_buyers']:g} more buyers expected than without the message "
                   f"(model of {model.trained_at:%d %b %Y}); segment rule: prediction uplift above 0"}


@dataclass(frozen=True)
class Row:
    """One metric of the report's forecast-vs-actual table."""

    metric: str
    label: str
    forecast: str
    actual: str
    verdict: str


#: a figure known before sending (cost) has no interval; when the actual differs, why it can
POINT_MISSED = "differs from the estimate (another price charged, or fewer messages sent)"
#: the cost's verdict when every text went through the simulator: its 0.00 against a provider's price was called a
#: discrepancy ("differs from the estimate")
SIMULATED = "nothing charged: the simulator sends for free (estimated at a provider’s price)"
#: the cost's (and ROI's) verdict when the provider sent texts without saying their price (SMPP): the prices'
#: sum, 0.00 with none known, was compared and read "differs from the estimate"
UNPRICED = "not compared: the provider reported no price for some texts sent"
#: ROI's verdict when every text went through the simulator: no cost, so no ratio, ever (it read "n/a | n/a")
FREE = "not compared: the simulator charges nothing, so there is no cost to divide the revenue by"
#: ROI's verdict when a finished run was charged nothing (every text failed unbilled, or priced at 0)
NOTHING_CHARGED = "not compared: nothing was charged, so there is no cost to divide the revenue by"
#: the verdict of a figure that was not forecast (revenue with no value known, ROI without revenue or a rate): "too
#: early" promised a comparison that never comes
NOT_FORECAST = "not compared: not forecast (why in the Forecast column or under “Based on”)"


def _verdict(entry: dict[str, Any]) -> str:
    if entry["within80"] is None:
        return "n/a"
    if entry["metric"] == "cost_micros":  # known before sending: no interval
        return "as estimated" if entry["within95"] else POINT_MISSED
    # any other figure whose simulated outcomes all agreed (no sale in 19 of 20) is still an outcome of chance: a sale
    # against it read "differs from the estimate (another price charged, or fewer messages sent)"
    if entry["within80"]:
        return "inside the 80 % interval"
    return "inside the 95 % interval only" if entry["within95"] else "outside the 95 % interval"


@dataclass(frozen=True)
class RunRows:
    """One run's forecast-vs-actual rows, with when its forecast was made and what it rests on."""

    run: int
    made_at: str  # ISO, UTC: the page shows it in the campaign's zone
    rows: list[Row]
    basis: str = ""


#: the verdict while the run still sends: a partial count against the whole run's forecast was read
#: as a miss ("Delivered 0 … outside the 95 % interval" for texts planned for the next morning)
TOO_EARLY = "too early: still sending"
#: a run whose every actual figure is missing has sent nothing yet: its row said "n/a" twice
NOT_SENT = "not sent yet"


def _rows(metrics: list[dict[str, Any]], money: Money = Money(), sources: dict[str, str] | None = None,
          *, finished: bool = True, admin: bool = False, simulated: bool = False, unpriced: int = 0,
          clickable: float = 1.0) -> list[Row]:
    out = []
    forecasts = {entry["metric"]: Figure(**entry["forecast"]) for entry in metrics if entry["forecast"] is not None}
    unsent = all(entry["actual"] is None for entry in metrics)
    for entry in metrics:
        metric, figure = entry["metric"], entry["forecast"]
        currency = money.currency_of(metric)
        shown = (_figure(metric, Figure(**figure), currency) + _unclickable(metric, clickable) if figure is not None
                 else _missing(metric, sources or {}, forecasts))
        if metric == "roi" and figure is not None:
            shown = cost_note(forecasts.get("revenue_micros"), forecasts.get("cost_micros"), money) or shown
        if metric == "roi" and figure is not None and money.mixed:
            shown += f"; {money.conversion}"
        actual, verdict = (NOT_SENT, NOT_SENT) if unsent else _judged(entry, money, finished=finished,
                                                                      simulated=simulated, unpriced=unpriced)
        out.append(Row(metric, LABELS.get(metric, metric), for_reader(shown, money, admin=admin), actual, verdict))
    return out


def _judged(entry: dict[str, Any], money: Money, *, finished: bool, simulated: bool, unpriced: int) -> tuple[str, str]:
    """A sent run's actual figure and verdict for one metric. Only ROI can lack an actual once texts went: with no
    cost charged to divide by, or revenue in a currency with no rate to cost's; while the run sends and nothing is
    charged yet it is "too early" like the other rows (it read "n/a | n/a"), otherwise "n/a" with why."""
    metric, value = entry["metric"], entry["actual"]
    currency = money.currency_of(metric)
    if metric == "roi" and money.factor is None:
        return "n/a", f"not compared: no exchange rate from {money.revenue} to {money.cost} is set"
    if metric == "roi" and simulated:
        return "n/a", FREE
    if simulated and metric == "cost_micros":
        return _value(metric, value, currency), SIMULATED
    if unpriced and metric in ("cost_micros", "roi"):
        # the prices' sum is a floor of the cost (0.00 when none is known), and ROI divides by it
        return _unpriced_actual(metric, value, currency), UNPRICED
    if value is None:
        if finished:
            return "n/a", NOTHING_CHARGED
        return "nothing charged yet", TOO_EARLY if entry["forecast"] is not None else NOT_FORECAST
    if entry["forecast"] is None:
        return _value(metric, value, currency), NOT_FORECAST
    return _value(metric, value, currency), _verdict(entry) if finished else TOO_EARLY


def _unpriced_actual(metric: str, value: float | None, currency: str) -> str:
    if metric == "roi" or not value:
        return "unknown"
    return f"at least {_value(metric, value, currency)}"


def runs(compared: dict[str, Any] | None, *, sending: int | None = None, admin: bool = False,
         simulated: bool = False, unpriced: int = 0) -> list[RunRows]:
    """Each run's stored forecast beside that run's actual figures (``campaigns.forecasting.comparison``),
    the latest run first; none without a stored forecast. A run not started yet reads "not sent yet";
    the run ``sending`` (still preparing, running or paused) gets no verdict yet (``TOO_EARLY``); ``admin``
    as in :func:`facts`; ``simulated``: every text went through the simulator, whose 0.00 is no miss
    of the cost estimated at a provider's price (``SIMULATED``); ``unpriced``: texts sent without a price from the
    provider, so the actual cost is unknown (or a floor) and neither it nor ROI is compared (``UNPRICED``)."""
    if compared is None:
        return []
    return [RunRows(entry["run"], entry["made_at"],
                    _rows(entry["metrics"], Money.from_dict(entry), entry["sources"], finished=entry["run"] != sending,
                          admin=admin, simulated=simulated, unpriced=unpriced,
                          clickable=float(entry.get("clickable", 1.0))),
                    for_reader(basis(entry["sources"]), Money.from_dict(entry), admin=admin))
            for entry in reversed(compared["runs"])]
