"""SVG chart geometry for server-rendered charts (issue 14, part 3): numbers in, coordinates out.

No JavaScript and no library: templates draw <path>/<rect> from these coordinates inside a viewBox, so a
chart scales to any width, works under the Content-Security-Policy (no inline style: colours are CSS
classes in static/css/app.css using currentColor and variables, ready for a dark theme), and its
numbers are also given as a table beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.formatting import money_text

WIDTH, HEIGHT = 400, 200
LEFT, RIGHT, TOP, BOTTOM = 62, 8, 10, 26  # room for the y labels on the left and dates below
SERIES_CLASSES = 8  # .series-0 … .series-7 in app.css; more series reuse them in turn


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the viewBox
    label: str
    anchor: str = "middle"  # text-anchor of an x label: the last one ends at the right edge


@dataclass(frozen=True)
class Line:
    label: str
    css: str
    path: str
    dots: tuple[tuple[float, float], ...]  # drawn when a line has few points (one alone is a dot)


@dataclass(frozen=True, kw_only=True)
class _Frame:
    """What every chart draws around its data: the axes' ticks and the plot area in the viewBox."""

    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


@dataclass(frozen=True, kw_only=True)
class LineChart(_Frame):
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, kw_only=True)
class BarChart(_Frame):
    bars: tuple[Bar, ...]


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        pad = abs(high) * 0.01 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _time_ticks(start: dt.datetime, end: dt.datetime, x_of: object, count: int = 4) -> list[Tick]:
    span = (end - start).total_seconds()
    fmt = "%H:%M" if span <= 2 * 86400 else "%d %b"
    ticks = []
    for i in range(count + 1):
        moment = start + (end - start) * i / count
        local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        at = round(x_of(moment), 1)  # type: ignore[operator]
        ticks.append(
            Tick(at=at, label=local.strftime(fmt).lstrip("0"), anchor="end" if i == count else "middle")
        )
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def line_chart(
    *,
    series: Sequence[tuple[str, Sequence[tuple[dt.datetime, Decimal]]]],
    start: dt.datetime,
    end: dt.datetime,
) -> LineChart:
    """Step lines (a balance holds until the next sync) of every series between start and end."""
    values = [float(v) for _, points in series for _, v in points]
    ticks = nice_ticks(min(values, default=0.0), max(values, default=1.0))
    y_low, y_high = ticks[0], ticks[-1]
    span_t = max((end - start).total_seconds(), 1.0)

    def x_of(moment: dt.datetime) -> float:
        share = (moment - start).total_seconds() / span_t
        return LEFT + (WIDTH - LEFT - RIGHT) * min(max(share, 0.0), 1.0)

    def y_of(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - y_low) / (y_high - y_low))

    lines = []
    for index, (label, points) in enumerate(series):
        coords = [(x_of(t), y_of(float(v))) for t, v in sorted(points)]
        if not coords:
            continue
        path = f"M{_fmt(coords[0][0])} {_fmt(coords[0][1])}"
        for x, y in coords[1:]:
            path += f"H{_fmt(x)}V{_fmt(y)}"
        dots = tuple((round(x, 1), round(y, 1)) for x, y in coords) if len(coords) <= 31 else ()
        lines.append(Line(label=label, css=f"series-{index % SERIES_CLASSES}", path=path, dots=dots))
    return LineChart(
        lines=tuple(lines),
        y_ticks=tuple(Tick(at=round(y_of(t), 1), label=money_text(Decimal(repr(t)))) for t in ticks),
        x_ticks=tuple(_time_ticks(start, end, x_of)),
    )


def stacked_bar_chart(
    *, days: Sequence[dt.date], stacks: Sequence[tuple[str, str, Sequence[int]]]
) -> BarChart:
    """One bar per day, stacked by (label, css class, counts per day) in the order given."""
    totals = [sum(counts[i] for _, _, counts in stacks) for i in range(len(days))]
    ticks = [t for t in nice_ticks(0.0, float(max(max(totals, default=0), 1))) if t == int(t)]
    top_value = ticks[-1] or 1.0
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    bar_width = max(slot * 0.8, 1.0)

    def y_of(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top_value)

    bars = []
    for i, day in enumerate(days):
        base = 0
        for label, css, counts in stacks:
            count = counts[i]
            if not count:
                continue
            y_top, y_base = y_of(base + count), y_of(base)
            bars.append(
                Bar(
                    x=round(LEFT + slot * i + (slot - bar_width) / 2, 2),
                    y=round(y_top, 2),
                    width=round(bar_width, 2),
                    height=round(y_base - y_top, 2),
                    css=css,
                    title=f"{day:%d %b}: {count} {label.lower()}",
                )
            )
            base += count
    every = max(1, math.ceil(len(days) / 4))
    x_ticks = tuple(
        Tick(
            at=round(LEFT + slot * (i + 1) if i == len(days) - 1 else LEFT + slot * (i + 0.5), 1),
            label=f"{day:%d %b}".lstrip("0"),
            anchor="end" if i == len(days) - 1 else "middle",
        )
        for i, day in enumerate(days)
        if (len(days) - 1 - i) % every == 0
    )
    return BarChart(
        bars=tuple(bars),
        y_ticks=tuple(Tick(at=round(y_of(t), 1), label=str(int(t))) for t in ticks),
        x_ticks=x_ticks,
    )
