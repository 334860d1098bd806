"""The charts page: balance history (per key set, per asset, the desk's total in USDT) and transfers per
day by status, as server-rendered SVG with the same numbers in a table (docs/frontend.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from accounts.balance_history import DEFAULT_PERIOD_DAYS, PERIOD_DAYS, Point, balance_history_for
from accounts.charts import SERIES_CLASSES, BarChart, LineChart, line_chart, stacked_bar_chart
from accounts.web import request_user
from transfers.activity_selectors import transfers_per_day
from transfers.views.base import guarded


@dataclass
class ChartBlock:
    key: str  # element ids
    title: str
    summary: str  # what the picture shows, in words (the svg's description)
    chart: LineChart | BarChart
    legend: list[tuple[str, str]]  # (label, css class)
    head: list[str]
    rows: list[list[Any]] = field(default_factory=list)  # the table view of the same numbers
    series_column: bool = False  # the table's second column names the line (text, not a number)
    note: str = ""


def _line_block(
    *,
    key: str,
    title: str,
    unit: str,
    summary: str,
    series: list[tuple[str, list[Point]]],
    start: dt.datetime,
    end: dt.datetime,
) -> ChartBlock:
    chart = line_chart(series=series, start=start, end=end)
    named = key != "desk-total"  # the desk's total is one line of all key sets; the others name theirs
    rows = sorted(
        ([t, label, v] if named else [t, v] for label, points in series for t, v in points),
        key=lambda r: (r[0], r[1]),
    )
    return ChartBlock(
        key=key,
        title=title,
        summary=summary,
        chart=chart,
        legend=[(label, f"series-{i % SERIES_CLASSES}") for i, (label, _) in enumerate(series)],
        head=["Time", "Key set", unit] if named else ["Time", unit],
        rows=rows,
        series_column=named,
    )


@require_GET
@guarded
def charts(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    error = ""
    raw = request.GET.get("days", str(DEFAULT_PERIOD_DAYS))
    days = int(raw) if raw.isascii() and raw.isdigit() and int(raw) in PERIOD_DAYS else 0
    if not days:
        offered = ", ".join(str(d) for d in PERIOD_DAYS)
        error = f"Choose a period of {offered} days; showing {DEFAULT_PERIOD_DAYS}."
        days = DEFAULT_PERIOD_DAYS
    history = balance_history_for(user=user, days=days)
    start, end = history.start, history.end
    blocks: list[ChartBlock] = []
    unvalued = history.unvalued_assets
    covers = "BingX's asset overview plus the spot wallet's USDT at face value" + (
        f"; excludes spot {', '.join(unvalued)} (no USDT price here)" if unvalued else ""
    )
    if history.key_sets:
        desk = history.desk_total()
        blocks.append(
            _line_block(
                key="desk-total",
                title="The desk's total value in USDT",
                unit="USDT",
                summary=f"Total USDT value of every key set shown, from {len(desk)} syncs.",
                series=[("All key sets shown", desk)],
                start=start,
                end=end,
            )
        )
        blocks[-1].note = f"Counts {covers}."
        blocks.append(
            _line_block(
                key="key-sets",
                title="Value per key set in USDT",
                unit="USDT",
                summary=f"USDT value of {len(history.key_sets)} key sets over time, one line each.",
                series=[(k.key_set.label, k.total_series(start=start)) for k in history.key_sets],
                start=start,
                end=end,
            )
        )
        blocks[-1].note = f"Counts {covers}."
        for asset, series in history.per_asset():
            blocks.append(
                _line_block(
                    key=f"asset-{slugify(asset)}",
                    title=f"{asset} in funding + spot",
                    unit=asset,
                    summary=f"{asset} held in the funding and spot wallets, per key set.",
                    series=series,
                    start=start,
                    end=end,
                )
            )
    per_day = transfers_per_day(user=user, days=days)
    bars = stacked_bar_chart(
        days=per_day.days,
        stacks=[(label, f"bar-{value}", counts) for value, label, counts in per_day.statuses],
    )
    transfers_block = ChartBlock(
        key="transfers-per-day",
        title="Transfer requests per day by status",
        summary=f"{per_day.total} transfer requests created in the last {days} days, "
        "stacked by their status now.",
        chart=bars,
        legend=[(label, f"bar-{value}") for value, label, _ in per_day.statuses],
        head=["Day", *[label for _, label, _ in per_day.statuses], "Total"],
        rows=[[day, *counts, total] for day, counts, total in per_day.rows() if total],
    )
    return render(
        request,
        "transfers/charts.html",
        {
            "days": days,
            "periods": PERIOD_DAYS,
            "error": error,
            "history": history,
            "blocks": blocks,
            "transfers_block": transfers_block,
            "zero": Decimal(0),
        },
        status=400 if error else 200,
    )
