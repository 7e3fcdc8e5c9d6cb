"""Charts drawn on the server as inline SVG: no script, no web font, readable without colour.

Every chart is one `<svg role="img">` with a `<title>` and `<desc>` it is labelled by, a
viewBox so it scales with the page, the Okabe-Ito palette (safe for the common colour
blindnesses) and text labels beside every bar, so colour is never the only cue. Each data
mark carries `data-value` (the value as published) and `data-label`.

Suppressed counts ("<5", "withheld", see app/stats/suppression.py) are drawn as a short
hatched stub of fixed length with the word beside it: the true number never reaches the
drawing, not even as a length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Literal

from markupsafe import Markup

Value = int | float | str | None
"""A number to draw, a suppression marker to draw as a stub, or None for "not shown"."""

FONT_STACK = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Liberation Sans', "
    "Arial, sans-serif"
)
# Okabe & Ito (2008), ordered for contrast on white; the yellow is last on purpose.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442")
BAR_COLOUR = "#0072B2"
TEXT = "#1b1f24"
MUTED = "#56606b"
GRID = "#d5dae0"
WIDTH = 720
STUB_PX = 8
STUB_LEGEND = "Hatched: under 5, or withheld"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ID = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_COUNT_STEPS = (5, 10, 20, 25, 50)
# (step in seconds, unit, seconds per unit): every tick label is 0 or a multiple of a step
# of at least five units, so the axis never prints a small number that looks like a count.
_DURATION_STEPS = (
    (5, "s", 1),
    (10, "s", 1),
    (15, "s", 1),
    (30, "s", 1),
    (5 * 60, "min", 60),
    (10 * 60, "min", 60),
    (15 * 60, "min", 60),
    (30 * 60, "min", 60),
    (5 * 3600, "h", 3600),
    (6 * 3600, "h", 3600),
    (12 * 3600, "h", 3600),
    (24 * 3600, "h", 3600),
    (48 * 3600, "h", 3600),
    (5 * 86400, "d", 86400),
    (10 * 86400, "d", 86400),
    (20 * 86400, "d", 86400),
    (50 * 86400, "d", 86400),
)


@dataclass(frozen=True)
class Bar:
    """One labelled value of a bar chart."""

    label: str
    value: Value


@dataclass(frozen=True)
class Series:
    """One named series of a stacked or grouped chart, a value per column or group."""

    name: str
    values: Sequence[Value]


# -- formatting -----------------------------------------------------------------------


def format_count(value: Value) -> str:
    """A count as printed: 12,345; suppression markers as they are."""
    if value is None:
        return "not shown"
    if isinstance(value, str):
        return value
    return f"{int(value):,}"


def format_duration(seconds: float) -> str:
    """A duration in the largest sensible units: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def iso_duration(seconds: float) -> str:
    """An ISO 8601 duration for `<time datetime>`: PT3H20M."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or out == "PT":
        out += f"{secs}S"
    return out


def month_label(month: str) -> str:
    """ "2024-03" as "March 2024"."""
    year, mon = month.split("-")
    return f"{MONTH_NAMES[int(mon) - 1]} {year}"


# -- scales ---------------------------------------------------------------------------


def count_ticks(maximum: float) -> list[int]:
    """Axis ticks from 0 past maximum, a step of 5, 10, 20, 25 or 50 times a power of ten."""
    if maximum <= 0:
        return [0, 5]
    magnitude = 1
    while True:
        for base in _COUNT_STEPS:
            step = base * magnitude
            if maximum / step <= 5:
                top = math.ceil(maximum / step) * step
                return list(range(0, top + 1, step))
        magnitude *= 10


def duration_ticks(maximum: float) -> tuple[list[float], str, int]:
    """Axis ticks (seconds) from 0 past maximum, their unit and seconds per unit."""
    for step, unit, per in _DURATION_STEPS:
        if maximum / step <= 5:
            count = max(1, math.ceil(maximum / step))
            return [float(i * step) for i in range(count + 1)], unit, per
    step, unit, per = _DURATION_STEPS[-1]
    count = math.ceil(maximum / step)
    return [float(i * step) for i in range(count + 1)], unit, per


def _number(value: Value) -> float | None:
    """The drawable number of a value, None for markers and missing values."""
    if value is None or isinstance(value, str):
        return None
    return float(value)


# -- SVG building blocks --------------------------------------------------------------


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _fmt(x: float) -> str:
    """Coordinates to one decimal, without trailing zeros."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text_width(text: str, size: float = 13) -> float:
    """A conservative width estimate of text in the system sans-serif."""
    return len(text) * size * 0.56


def _open(
    chart_id: str, title: str, description: str, height: float, width: float = WIDTH
) -> list[str]:
    if not _ID.match(chart_id):
        raise ValueError(f"chart id must match {_ID.pattern}: {chart_id!r}")
    return [
        f'<svg class="chart {"chart-narrow" if width < WIDTH else "chart-wide"}" '
        f'id="{chart_id}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" preserveAspectRatio="xMinYMin meet" '
        f'font-family="{_attr(FONT_STACK)}" font-size="13" fill="{TEXT}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _hatch(chart_id: str, index: int | str, colour: str) -> str:
    return (
        f'<pattern id="{chart_id}-hatch-{index}" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="2.5"/></pattern>'
    )


def _mark(
    *,
    x: float,
    y: float,
    w: float,
    h: float,
    value: Value,
    label: str,
    fill: str,
    tooltip: str,
    css_class: str = "bar",
) -> str:
    return (
        f'<rect class="{css_class}" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(w)}" '
        f'height="{_fmt(h)}" fill="{fill}" data-value="{_attr(format_value_attr(value))}" '
        f'data-label="{_attr(label)}"><title>{escape(tooltip)}</title></rect>'
    )


def format_value_attr(value: Value) -> str:
    """The `data-value` of a mark: the number as published (no separators) or the marker."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


def _empty(
    chart_id: str, title: str, description: str, message: str, width: float = WIDTH
) -> Markup:
    parts = _open(chart_id, title, description, 60, width)
    parts.append(
        f'<text x="{_fmt(width / 2)}" y="36" text-anchor="middle" fill="{MUTED}">'
        f"{escape(message)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


# -- the charts -----------------------------------------------------------------------


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    width: float = WIDTH,
    empty_message: str = "No data for this period",
) -> Markup:
    """A horizontal bar chart of counts, one labelled bar per row, its value at its end."""
    if not bars:
        return _empty(chart_id, title, description, empty_message, width)
    label_w = min(width * 0.4, max(80.0, max(_text_width(b.label) for b in bars) + 18))
    value_w = 78.0
    plot_x, plot_w = label_w, width - label_w - value_w
    top, row_h, bar_h = 28.0, 30.0, 20.0
    height = top + row_h * len(bars) + 6
    numbers = [n for n in (_number(b.value) for b in bars) if n is not None]
    ticks = count_ticks(max(numbers, default=0))
    scale = plot_w / ticks[-1]

    parts = _open(chart_id, title, description, height, width)
    parts.append(f"<defs>{_hatch(chart_id, 0, BAR_COLOUR)}</defs>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t in ticks:
        x = plot_x + t * scale
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{top - 6}" x2="{_fmt(x)}" y2="{_fmt(height - 4)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{_fmt(x)}" y="{top - 11}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{format_count(t)}</text>'
        )
    parts.append("</g>")
    for i, bar in enumerate(bars):
        y = top + i * row_h + (row_h - bar_h) / 2
        text_y = y + bar_h / 2 + 4.5
        fits = int((label_w - 14) / (13 * 0.56))
        shown = bar.label if len(bar.label) <= fits else bar.label[: fits - 1] + "…"
        parts.append(
            f'<text x="{_fmt(label_w - 10)}" y="{_fmt(text_y)}" text-anchor="end">'
            f"{escape(shown)}</text>"
        )
        number = _number(bar.value)
        tooltip = f"{bar.label}: {format_count(bar.value)}"
        if number is None:
            width, fill = STUB_PX, f"url(#{chart_id}-hatch-0)"
        else:
            width, fill = (max(1.5, number * scale) if number else 0.0), BAR_COLOUR
        parts.append(
            _mark(
                x=plot_x, y=y, w=width, h=bar_h, value=bar.value, label=bar.label,
                fill=fill, tooltip=tooltip,
            )
        )  # fmt: skip
        parts.append(
            f'<text class="value" x="{_fmt(plot_x + width + 6)}" y="{_fmt(text_y)}" '
            f'font-weight="600">{escape(format_count(bar.value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def monthly_stacked_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    months: Sequence[str],
    series: Sequence[Series],
    empty_message: str = "No data for this period",
) -> Markup:
    """Vertical columns per month ("YYYY-MM"), stacked by series, with a legend on top."""
    if not months or not series:
        return _empty(chart_id, title, description, empty_message)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]

    # Legend: swatch and name, wrapped over as many lines as it needs.
    legend: list[tuple[float, float, int]] = []
    x, y = 0.0, 0.0
    for i, s in enumerate(series):
        item_w = 22 + _text_width(s.name) + 18
        if x and x + item_w > WIDTH:
            x, y = 0.0, y + 22
        legend.append((x, y, i))
        x += item_w
    has_stubs = any(isinstance(v, str) for s in series for v in s.values)
    if has_stubs:
        item_w = 22 + _text_width(STUB_LEGEND) + 18
        if x and x + item_w > WIDTH:
            x, y = 0.0, y + 22
        stub_at = (x, y)
    legend_h = y + 22 + 14

    axis_w, right = 64.0, 8.0
    plot_top, plot_h = legend_h + 10, 240.0
    plot_x, plot_w = axis_w, WIDTH - axis_w - right
    base = plot_top + plot_h
    height = base + 44
    numeric_sums = []
    stubs = []
    for m in range(len(months)):
        values = [s.values[m] for s in series]
        numeric_sums.append(sum(n for n in (_number(v) for v in values) if n is not None))
        stubs.append(sum(1 for v in values if isinstance(v, str)))
    ticks = count_ticks(max(numeric_sums, default=0))
    scale = (plot_h - STUB_PX * max(stubs, default=0)) / ticks[-1]
    col_w = plot_w / len(months)
    bar_w = min(34.0, col_w * 0.72)

    parts = _open(chart_id, title, description, height)
    parts.append("<defs>" + "".join(_hatch(chart_id, i, c) for i, c in enumerate(colours)))
    parts.append(_hatch(chart_id, "stub", MUTED) + "</defs>")
    parts.append('<g class="legend">')
    for lx, ly, i in legend:
        parts.append(
            f'<rect x="{_fmt(lx)}" y="{_fmt(ly)}" width="14" height="14" rx="2" '
            f'fill="{colours[i]}"/>'
            f'<text x="{_fmt(lx + 20)}" y="{_fmt(ly + 12)}">{escape(series[i].name)}</text>'
        )
    if has_stubs:
        sx, sy = stub_at
        parts.append(
            f'<rect x="{_fmt(sx)}" y="{_fmt(sy)}" width="14" height="14" rx="2" '
            f'fill="url(#{chart_id}-hatch-stub)" stroke="{MUTED}" stroke-width="1"/>'
            f'<text x="{_fmt(sx + 20)}" y="{_fmt(sy + 12)}">{STUB_LEGEND}</text>'
        )
    parts.append("</g>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t in ticks:
        ty = base - t * scale
        parts.append(
            f'<line x1="{plot_x}" y1="{_fmt(ty)}" x2="{WIDTH - right}" y2="{_fmt(ty)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{plot_x - 8}" y="{_fmt(ty + 4)}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}">{format_count(t)}</text>'
        )
    for m, show_month, show_year in _month_ticks(months, math.ceil(44 / col_w)):
        cx = plot_x + col_w * m + col_w / 2
        year, mon = months[m].split("-")
        if show_month:
            parts.append(
                f'<text x="{_fmt(cx)}" y="{_fmt(base + 16)}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{MONTHS[int(mon) - 1]}</text>'
            )
        if show_year:
            parts.append(
                f'<text x="{_fmt(cx)}" y="{_fmt(base + 32)}" text-anchor="middle" '
                f'font-size="11" font-weight="600" fill="{MUTED}">{escape(year)}</text>'
            )
    parts.append(
        f'<line x1="{plot_x}" y1="{_fmt(base)}" x2="{WIDTH - right}" y2="{_fmt(base)}" '
        f'stroke="{MUTED}" stroke-width="1"/></g>'
    )
    for m, month in enumerate(months):
        x0 = plot_x + col_w * m + (col_w - bar_w) / 2
        y_top = base
        for i, s in enumerate(series):
            value = s.values[m]
            number = _number(value)
            if number == 0 or value is None:
                continue
            h = STUB_PX if number is None else number * scale
            y_top -= h
            fill = f"url(#{chart_id}-hatch-{i})" if number is None else colours[i]
            label = f"{month_label(month)} · {s.name}"
            parts.append(
                _mark(
                    x=x0, y=y_top, w=bar_w, h=h, value=value, label=label, fill=fill,
                    tooltip=f"{label}: {format_count(value)}", css_class="segment",
                )
            )  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def grouped_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    groups: Sequence[str],
    series: Sequence[Series],
    kind: Literal["count", "duration"] = "count",
    missing_text: str = "not shown",
    empty_message: str = "No data for this period",
) -> Markup:
    """Horizontal bars in groups (e.g. per platform), one labelled row per series."""
    if not groups or not series:
        return _empty(chart_id, title, description, empty_message)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    label_w = min(250.0, max(110.0, max(_text_width(s.name, 12) for s in series) + 40))
    value_w = 120.0
    plot_x, plot_w = label_w, WIDTH - label_w - value_w
    top, head_h, row_h, bar_h, gap = 28.0, 24.0, 24.0, 16.0, 12.0
    height = top + len(groups) * (head_h + row_h * len(series) + gap)
    numbers = [n for s in series for n in (_number(v) for v in s.values) if n is not None]
    if kind == "duration":
        ticks, unit, per = duration_ticks(max(numbers, default=0))
        tick_labels = [f"{round(t / per)} {unit}" for t in ticks]
    else:
        ticks = [float(t) for t in count_ticks(max(numbers, default=0))]
        tick_labels = [format_count(int(t)) for t in ticks]

    def value_text(v: Value) -> str:
        n = _number(v)
        return format_duration(n) if kind == "duration" and n is not None else format_count(v)

    scale = plot_w / ticks[-1] if ticks[-1] else 0.0
    text_class = ' class="duration"' if kind == "duration" else ""
    mark_class = "bar duration" if kind == "duration" else "bar"

    parts = _open(chart_id, title, description, height)
    parts.append("<defs>" + "".join(_hatch(chart_id, i, c) for i, c in enumerate(colours)))
    parts.append("</defs>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t, tick_label in zip(ticks, tick_labels, strict=True):
        x = plot_x + t * scale
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{top - 6}" x2="{_fmt(x)}" y2="{_fmt(height - gap)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick{" duration" if kind == "duration" else ""}" x="{_fmt(x)}" '
            f'y="{top - 11}" text-anchor="middle" font-size="11" fill="{MUTED}">'
            f"{escape(tick_label)}</text>"
        )
    parts.append("</g>")
    y = top
    for g, group in enumerate(groups):
        parts.append(f'<text x="0" y="{_fmt(y + 17)}" font-weight="700">{escape(group)}</text>')
        y += head_h
        for i, s in enumerate(series):
            value = s.values[g]
            number = _number(value)
            by = y + (row_h - bar_h) / 2

            text_y = by + bar_h / 2 + 4.5
            parts.append(
                f'<text x="{_fmt(label_w - 10)}" y="{_fmt(text_y)}" text-anchor="end" '
                f'font-size="12" fill="{MUTED}">{escape(s.name)}</text>'
            )
            label = f"{group} · {s.name}"
            if value is None:
                parts.append(
                    f'<text x="{_fmt(plot_x + 4)}" y="{_fmt(text_y)}" font-style="italic" '
                    f'font-size="12" fill="{MUTED}">{escape(missing_text)}</text>'
                )
            else:
                width = STUB_PX if number is None else (max(1.5, number * scale) if number else 0.0)
                fill = f"url(#{chart_id}-hatch-{i})" if number is None else colours[i]
                shown = value_text(value)
                parts.append(
                    _mark(
                        x=plot_x, y=by, w=width, h=bar_h, value=value, label=label,
                        fill=fill, tooltip=f"{label}: {shown}", css_class=mark_class,
                    )
                )  # fmt: skip
                parts.append(
                    f'<text{text_class} x="{_fmt(plot_x + width + 6)}" y="{_fmt(text_y)}" '
                    f'font-weight="600">{escape(shown)}</text>'
                )
            y += row_h
        y += gap
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _month_ticks(months: Sequence[str], min_gap: int = 2) -> list[tuple[int, bool, bool]]:
    """Which columns get a month name and which a year, so that no two labels collide.

    Up to a year: every month. Longer: quarters (Jan, Apr, Jul, Oct). Years go under each
    January, and under the first column when no January is within min_gap columns of it.
    """
    numbers = [int(m.split("-")[1]) for m in months]
    if len(months) <= 12:
        shown = set(range(len(months)))
    else:
        shown = {i for i, n in enumerate(numbers) if n in (1, 4, 7, 10)}
        if not shown or min(shown) >= min_gap:
            shown.add(0)
    januaries = {i for i, n in enumerate(numbers) if n == 1}
    years = set(januaries)
    if not januaries or min(januaries) >= min_gap:
        years.add(0)
    return [(i, i in shown, i in years) for i in range(len(months)) if i in shown | years]


def months_between(first: date, last: date) -> list[str]:
    """Every month from first to last inclusive, as "YYYY-MM"."""
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
