"""The campaign forecast in words: the wizard review's facts and the report's forecast-vs-actual rows.

The figures come from ``campaigns.forecasting`` (``intelligence.forecast``); this module only
formats them: counts as whole numbers, money from micro-units, ROI as a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intelligence.forecast import Figure, Forecast

LABELS = {"delivered": "Delivered", "clicks": "Clicks (unique)", "conversions": "Conversions",
          "revenue_micros": "Revenue", "cost_micros": "Cost", "roi": "Return on cost (ROI)"}


def _value(metric: str, value: float) -> str:
    if metric.endswith("_micros"):
        return f"{value / 1_000_000:,.2f}"
    if metric == "roi":
        return f"{value:+.0%}"
    return f"{value:,.0f}"


def _figure(metric: str, figure: Figure) -> str:
    if figure.low95 == figure.high95:
        return _value(metric, figure.expected)
    return (f"{_value(metric, figure.expected)} (80 %: {_value(metric, figure.low80)}–{_value(metric, figure.high80)}; "
            f"95 %: {_value(metric, figure.low95)}–{_value(metric, figure.high95)})")


def facts(made: Forecast) -> dict[str, str]:
    """Label → expected value with its intervals, then what the forecast rests on."""
    out = {LABELS[k]: (_figure(k, f) if f is not None else "n/a") for k, f in made.figures.items()}
    out["Based on"] = "; ".join(f"{LABELS.get(k, k).lower()}: {v}" for k, v in made.sources.items())
    return out


@dataclass(frozen=True)
class Row:
    """One metric of the report's forecast-vs-actual table."""

    metric: str
    label: str
    forecast: str
    actual: str
    verdict: str


def _verdict(entry: dict[str, Any]) -> str:
    if entry["within80"] is None:
        return "n/a"
    if entry["within80"]:
        return "inside the 80 % interval"
    return "inside the 95 % interval only" if entry["within95"] else "outside the 95 % interval"


def rows(compared: dict[str, Any] | None) -> list[Row]:
    """The stored forecast beside the actual figures (``campaigns.forecasting.comparison``); none without one."""
    if compared is None:
        return []
    out = []
    for entry in compared["metrics"]:
        metric, figure = entry["metric"], entry["forecast"]
        out.append(Row(metric, LABELS.get(metric, metric),
                       _figure(metric, Figure(**figure)) if figure is not None else "n/a",
                       _value(metric, entry["actual"]) if entry["actual"] is not None else "n/a", _verdict(entry)))
    return out
