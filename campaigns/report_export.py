"""The campaign report whole, and as a file: CSV rows or an XLSX workbook.

:func:`full_report` is the one assembly of a campaign's report that the API (JSON, CSV, XLSX), the
console's export links and the CLI give: ``reporting.campaign_report`` (totals, A/B arms, send-time
groups and their measured lift, waiting, skipped), an adaptive campaign's section
(``adaptive_report``: allocation over time, per-arm rates, purchases and lift over the control,
stopping state), learned frequency caps, and each run's forecast beside that run's figures
(``forecasting.comparison``).

The CSV is one table of ``scope, metric, value`` rows, so a spreadsheet filter on ``scope`` shows one
section (``all``, ``arm A``, ``send time best_time``, ``send time lift``, ``adaptive``,
``adaptive batch 3``, ``adaptive arm B``, ``adaptive control``, ``forecast run 2``...). The XLSX
workbook holds the same rows on its first sheet and gives each section with a shape of its own a
table on its own sheet: ``adaptive allocation`` (a batch per row, a column per arm),
``adaptive arms``, ``send time`` and ``forecast``. An undefined figure is "n/a", never blank or 0.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from campaigns import adaptive_report, fatigue, forecasting, reporting, texts_sent
from campaigns.models import Campaign
from core.spreadsheet import append_as_text, neutralise

NA = "n/a"
RATE_KEYS = ("n", "successes", "rate", "low", "high")
LIFT_KEYS = ("lift", "low", "high")
FORECAST_KEYS = ("expected", "low80", "high80", "low95", "high95")
Row = tuple[str, str, Any]


def full_report(session: Session, campaign: Campaign, *, now: datetime) -> dict[str, Any]:
    """The campaign's report with every section that applies to it (``adaptive``, ``learned_caps``,
    ``forecast`` only when the campaign has them)."""
    report = reporting.campaign_report(session, campaign)
    report["texts"] = [texts_sent.exported(choice) for choice in texts_sent.choices(session, campaign)]
    adaptive = adaptive_report.section(session, campaign)
    if adaptive is not None:
        report["adaptive"] = adaptive
    if campaign.learned_cap:
        report["learned_caps"] = fatigue.report(session, campaign, now=now)
    compared = forecasting.comparison(session, campaign)
    if compared is not None:
        report["forecast"] = compared
    return report


def _shown(value: Any) -> Any:
    return NA if value is None else value


def _block_rows(scope: str, block: dict[str, Any]) -> Iterable[Row]:
    for key, value in block.items():
        if isinstance(value, dict):
            yield from ((scope, f"{key}.{sub}", _shown(n)) for sub, n in sorted(value.items()))
        else:
            yield scope, key, _shown(value)


def _send_time_rows(section: dict[str, Any]) -> Iterable[Row]:
    yield "send time", "holdout", section["holdout"]
    yield "send time", "model", section["model"]["note"]
    for metric, lift in section["lift"].items():
        yield from (("send time lift", f"{metric}.{key}", _shown(value)) for key, value in lift.items())


def _adaptive_rows(section: dict[str, Any]) -> Iterable[Row]:
    for key in ("run", "metric", "control_share", "threshold", "winner", "stopped", "why", "attribution_days"):
        yield "adaptive", key, section[key] if section[key] != "" else NA
    for batch in section["batches"]:
        scope = f"adaptive batch {batch['batch']}"
        yield scope, "at", batch["at"]
        yield from ((scope, f"allocated.{arm}", n) for arm, n in batch["counts"].items())
        yield from ((scope, f"p_best.{arm}", _shown(p)) for arm, p in batch["p_best"].items())
    metric = section["metric"]
    for name, purchases in section["purchases"].items():
        scope = "adaptive control" if name == "control" else f"adaptive {name}" if name == "all variants" \
            else f"adaptive arm {name}"
        if name in section["arms"]:
            yield from ((scope, f"{metric}.{key}", _shown(section["arms"][name][key])) for key in RATE_KEYS)
        yield from ((scope, f"purchases.{key}", _shown(purchases[key])) for key in RATE_KEYS)
        if name != "control":
            lift = section["lift"].get(name) or {}
            yield from ((scope, f"lift_over_control.{key}", _shown(lift.get(key))) for key in LIFT_KEYS)


def _forecast_rows(compared: dict[str, Any]) -> Iterable[Row]:
    for run in compared["runs"]:
        scope = f"forecast run {run['run']}"
        yield scope, "made_at", run["made_at"]
        currencies = run.get("currencies") or {}
        yield from ((scope, f"currency.{side}", currencies.get(side) or NA) for side in ("revenue", "cost"))
        yield scope, "exchange_rate", _shown((run.get("exchange_rate") or {}).get("rate"))
        for entry in run["metrics"]:
            figure = entry["forecast"] or {}
            name = entry["metric"]
            yield from ((scope, f"{name}.{key}", _shown(figure.get(key))) for key in FORECAST_KEYS)
            yield from ((scope, f"{name}.{key}", _shown(entry[key])) for key in ("actual", "within80", "within95"))
            yield scope, f"{name}.basis", _shown(run["sources"].get(name))


TEXT_KEYS = ("template_id", "template", "language", "body")


def _text_rows(texts: list[dict[str, Any]]) -> Iterable[Row]:
    for text in texts:
        yield from (("text sent", f"{text['recipients']}.{key}", _shown(text[key])) for key in TEXT_KEYS)


def flat_rows(report: dict[str, Any]) -> list[Row]:
    """Every figure of ``report`` (:func:`full_report`) as a ``(scope, metric, value)`` row, after the text each
    group of recipients got (``text sent``)."""
    rows: list[Row] = list(_text_rows(report.get("texts") or []))
    timing = report.get("send_time") or {}
    blocks = [("all", report["totals"]), *((f"arm {k}", v) for k, v in report["arms"].items()),
              *((f"send time {k}", v) for k, v in timing.get("groups", {}).items())]
    for scope, block in blocks:
        rows.extend(_block_rows(scope, block))
    rows.extend(("all", f"skipped.{k}", v) for k, v in sorted(report["skipped"].items()))
    rows.extend(("all", f"waiting.{w['reason']}", w["count"]) for w in report["waiting"])
    if timing:
        rows.extend(_send_time_rows(timing))
    if report.get("adaptive"):
        rows.extend(_adaptive_rows(report["adaptive"]))
    if report.get("learned_caps"):
        rows.extend(_block_rows("learned caps", report["learned_caps"]))
    if report.get("forecast"):
        rows.extend(_forecast_rows(report["forecast"]))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["scope", "metric", "value"])
    # arm and group names are typed by marketers: a cell starting like a formula stays text
    writer.writerows([neutralise(cell, keep_signed_numbers=True) for cell in row] for row in flat_rows(report))
    return buffer.getvalue()


def _allocation_table(section: dict[str, Any]) -> list[list[Any]]:
    arms = ["control", *section["arms"]]
    head = ["batch", "at (UTC)", *(f"allocated {a}" for a in arms),
            *(f"P(best) {a}" for a in section["arms"])]
    return [head, *([b["batch"], b["at"], *(b["counts"].get(a, 0) for a in arms),
                     *(_shown(b["p_best"].get(a)) for a in section["arms"])] for b in section["batches"])]


def _arms_table(section: dict[str, Any]) -> list[list[Any]]:
    metric = section["metric"]
    head = ["group", *(f"{metric} {k}" for k in RATE_KEYS), *(f"purchases {k}" for k in RATE_KEYS),
            *(f"lift over control {k}" for k in LIFT_KEYS)]
    table = [head]
    for name, purchases in section["purchases"].items():
        rate = section["arms"].get(name) or {}
        lift = section["lift"].get(name) or {}
        table.append([name, *(_shown(rate.get(k)) for k in RATE_KEYS), *(_shown(purchases[k]) for k in RATE_KEYS),
                      *(_shown(lift.get(k)) for k in LIFT_KEYS)])
    table += [[], ["stopping state", section["why"]], ["winner", section["winner"] or NA],
              ["purchases counted within (days)", section["attribution_days"]]]
    return table


def _send_time_table(section: dict[str, Any]) -> list[list[Any]]:
    keys = ["messages", "sent", "delivered", "unique_clicks", "ctr", "replies", "reply_rate", "conversions",
            "conversion_rate"]
    table: list[list[Any]] = [["group", *keys]]
    table += [[name, *(_shown(group.get(k)) for k in keys)] for name, group in section["groups"].items()]
    lift_keys = ["best_rate", "random_rate", "difference", "low", "high", "sentence"]
    table += [[], ["lift (best time minus random time)", *lift_keys]]
    table += [[metric, *(_shown(lift.get(k)) for k in lift_keys)] for metric, lift in section["lift"].items()]
    table += [[], ["holdout share", section["holdout"]], ["model", section["model"]["note"]]]
    return table


def _forecast_table(compared: dict[str, Any]) -> list[list[Any]]:
    table: list[list[Any]] = [["run", "made at (UTC)", "metric", *FORECAST_KEYS, "actual", "within 80 %",
                               "within 95 %", "basis"]]
    for run in compared["runs"]:
        for entry in run["metrics"]:
            figure = entry["forecast"] or {}
            table.append([run["run"], run["made_at"], entry["metric"], *(_shown(figure.get(k)) for k in FORECAST_KEYS),
                          *(_shown(entry[k]) for k in ("actual", "within80", "within95")),
                          _shown(run["sources"].get(entry["metric"]))])
    return table


def _texts_table(texts: list[dict[str, Any]]) -> list[list[Any]]:
    head = ["recipients", "template id", "template", "language", "text (as the template reads now)"]
    return [head, *([text["recipients"], *(_shown(text[key]) for key in TEXT_KEYS)] for text in texts)]


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"campaign {report['campaign_id']}"[:31]
    sheet.append(["scope", "metric", "value"])
    for row in flat_rows(report):
        append_as_text(sheet, row)
    tables: list[tuple[str, list[list[Any]]]] = [("texts sent", _texts_table(report.get("texts") or []))]
    if report.get("adaptive"):
        tables += [("adaptive allocation", _allocation_table(report["adaptive"])),
                   ("adaptive arms", _arms_table(report["adaptive"]))]
    if report.get("send_time"):
        tables.append(("send time", _send_time_table(report["send_time"])))
    if report.get("forecast"):
        tables.append(("forecast", _forecast_table(report["forecast"])))
    for title, rows in tables:
        extra = book.create_sheet(title)
        for values in rows:
            append_as_text(extra, values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
