"""The parts every chart is drawn from: palette, number formats, axis scales, SVG marks.

Charts drawn on the server as inline SVG: no script, no web font, readable without colour.

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
from html import escape

from markupsafe import Markup

from app.stats.i18n import N_, Value

# Generic families only: the page names no font, so nothing could ever be fetched, and
# each reader's system draws its own script (Thai, Myanmar) with the font it has for it.
FONT_STACK = "system-ui, sans-serif"
# Okabe & Ito (2008), ordered for contrast on white; the yellow is last on purpose.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442")
BAR_COLOUR = "#0072B2"
TEXT = "#1b1f24"
MUTED = "#56606b"
GRID = "#d5dae0"
WIDTH = 720
STUB_PX = 8
STUB_LEGEND = N_("Hatched: under 5, or withheld")
NO_DATA = N_("No data for this period")
# The frozen reports' period labels are English (app/stats/period.py); the page names
# months in its reader's language (app/stats/i18n.py).
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
_DURATION_STEPS = tuple(
    (n * per, unit, per)
    for unit, per, multiples in (
        ("s", 1, (5, 10, 15, 30)),
        ("min", 60, (5, 10, 15, 30)),
        ("h", 3600, (5, 6, 12, 24, 48)),
        ("d", 86400, (5, 10, 20, 50)),
    )
    for n in multiples
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


def numeric(value: Value) -> float | None:
    """The drawable number of a value, None for markers and missing values."""
    if value is None or isinstance(value, str):
        return None
    return float(value)


# -- SVG building blocks --------------------------------------------------------------


def attr(value: object) -> str:
    """Text escaped for an attribute value."""
    return escape(str(value), quote=True)


def fmt(x: float) -> str:
    """Coordinates to one decimal, without trailing zeros."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float = 13) -> float:
    """A conservative width estimate of text in the system sans-serif."""
    return len(text) * size * 0.56


def open_svg(
    chart_id: str, title: str, description: str, height: float, width: float = WIDTH
) -> list[str]:
    """The opening of a chart: the labelled, scalable <svg>, its title and description."""
    if not _ID.match(chart_id):
        raise ValueError(f"chart id must match {_ID.pattern}: {chart_id!r}")
    return [
        f'<svg class="chart {"chart-narrow" if width < WIDTH else "chart-wide"}" '
        f'id="{chart_id}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {fmt(width)} {fmt(height)}" preserveAspectRatio="xMinYMin meet" '
        f'font-family="{attr(FONT_STACK)}" font-size="13" fill="{TEXT}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def hatch(chart_id: str, index: int | str, colour: str) -> str:
    """The hatch pattern that draws a suppressed value in colour."""
    return (
        f'<pattern id="{chart_id}-hatch-{index}" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="2.5"/></pattern>'
    )


def mark(
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
    """One data mark: a rect with its published value, its label and a tooltip."""
    return (
        f'<rect class="{css_class}" x="{fmt(x)}" y="{fmt(y)}" width="{fmt(w)}" '
        f'height="{fmt(h)}" fill="{fill}" data-value="{attr(format_value_attr(value))}" '
        f'data-label="{attr(label)}"><title>{escape(tooltip)}</title></rect>'
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


def empty_chart(
    chart_id: str, title: str, description: str, message: str, width: float = WIDTH
) -> Markup:
    """A chart with nothing to draw: the same labelled box with a message."""
    parts = open_svg(chart_id, title, description, 60, width)
    parts.append(
        f'<text x="{fmt(width / 2)}" y="36" text-anchor="middle" fill="{MUTED}">'
        f"{escape(message)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
