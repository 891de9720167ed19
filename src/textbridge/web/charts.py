"""Charts as SVG, drawn on the server: stacked bars and lines over days, horizontal bars.

No charting library: the dashboard needs three simple shapes, and markup drawn here works
without JavaScript, is styled by the page's CSS (`series-N` classes; the CSP allows no inline
style), and says what it shows to a screen reader (`role="img"`, a `<title>` per mark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil, floor, log10

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 26
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """A round number at or above `value` for the top of an axis (1, 2, 2.5, 5 times 10^n)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** floor(log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.4g}"


def _frame(label: str, body: list[str], top: float, unit: str) -> Markup:
    ticks = []
    for step in range(5):
        value = top * step / 4
        y = TOP + PLOT_H - PLOT_H * step / 4
        ticks.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        ticks.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
            f"{escape(_number(value))}{escape(unit)}</text>"
        )
    # Every text in it went through `escape`; the rest are numbers computed here.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        + "".join(ticks)
        + "".join(body)
        + "</svg>"
    )


def _day_labels(days: Sequence[str], slot: float) -> list[str]:
    every = max(1, ceil(len(days) / 8))
    labels = []
    for index, day in enumerate(days):
        if index % every == 0:
            x = LEFT + slot * (index + 0.5)
            labels.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(day[5:])}</text>"
            )
    return labels


def stacked_bars(
    label: str, days: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    """One bar per day, its series stacked in order."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(days))]
    top = nice_ceiling(max(totals, default=0))
    slot = PLOT_W / max(len(days), 1)
    body = _day_labels(days, slot)
    for index, day in enumerate(days):
        base = 0.0
        for number, one in enumerate(series):
            value = one.values[index] or 0
            if value <= 0:
                continue
            height = PLOT_H * value / top
            y = TOP + PLOT_H - PLOT_H * (base + value) / top
            x = LEFT + slot * index + slot * 0.15
            body.append(
                f'<rect class="series-{number}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{height:.1f}">'
                f"<title>{escape(day)} {escape(one.name)}: {escape(_number(value))}"
                f"{escape(unit)}</title></rect>"
            )
            base += value
    return _frame(label, body, top, unit)


def lines(
    label: str,
    days: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    top: float | None = None,
) -> Markup:
    """One line per series over the days; a day without a value breaks the line."""
    highest = max((v for s in series for v in s.values if v is not None), default=0)
    top = top or nice_ceiling(highest)
    slot = PLOT_W / max(len(days), 1)
    body = _day_labels(days, slot)
    for number, one in enumerate(series):
        points: list[str] = []
        for index, value in enumerate(one.values):
            if value is None:
                body.append(_polyline(number, points))
                points = []
                continue
            x = LEFT + slot * (index + 0.5)
            y = TOP + PLOT_H - PLOT_H * value / top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="series-{number} dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(days[index])} {escape(one.name)}: {escape(_number(value))}"
                f"{escape(unit)}</title></circle>"
            )
        body.append(_polyline(number, points))
    return _frame(label, body, top, unit)


def _polyline(number: int, points: list[str]) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline class="series-{number} line" points="{" ".join(points)}"/>'


def horizontal_bars(label: str, items: Sequence[tuple[str, float]]) -> Markup:
    """One bar per labelled value, longest first as given."""
    row = 26
    height = max(row * len(items), row) + 8
    top = max((value for _, value in items), default=0) or 1
    text_width = 220
    span = WIDTH - text_width - 60
    body = []
    for index, (name, value) in enumerate(items):
        y = 4 + row * index
        width = span * value / top
        body.append(
            f'<text class="tick" x="{text_width - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(name[:40])}</text>"
            f'<rect class="series-{index % 6}" x="{text_width}" y="{y + 3}" '
            f'width="{width:.1f}" height="{row - 8}"><title>{escape(name)}: '
            f"{escape(_number(value))}</title></rect>"
            f'<text class="value" x="{text_width + width + 6:.1f}" y="{y + 16}">'
            f"{escape(_number(value))}</text>"
        )
    return Markup(  # noqa: S704 - every text in it went through `escape`
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )
