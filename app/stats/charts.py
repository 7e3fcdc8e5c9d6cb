"""The transparency page's charts: bars, columns stacked by month, grouped bars.

Every chart is one `<svg role="img">` with a `<title>` and `<desc>` it is labelled by, a
viewBox so it scales with the page, the Okabe-Ito palette (safe for the common colour
blindnesses) and text labels beside every bar, so colour is never the only cue. Each data
mark carries `data-value` (the value as published) and `data-label`. The parts they are
drawn from are in app/stats/chart_parts.py.

Suppressed counts ("<5", "withheld", see app/stats/suppression.py) are drawn as a short
hatched stub of fixed length with the word beside it: the true number never reaches the
drawing, not even as a length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Literal

from markupsafe import Markup

from app.kit import days
from app.stats.chart_parts import (
    BAR_COLOUR,
    GRID,
    MUTED,
    NO_DATA,
    PALETTE,
    STUB_LEGEND,
    STUB_PX,
    WIDTH,
    Bar,
    Series,
    count_ticks,
    duration_ticks,
    empty_chart,
    fmt,
    hatch,
    iso_duration,
    mark,
    month_label,
    numeric,
    open_svg,
    text_width,
)
from app.stats.i18n import PageLocale, Value, english

__all__ = [
    "PALETTE",
    "STUB_LEGEND",
    "STUB_PX",
    "Bar",
    "Series",
    "Value",
    "bar_chart",
    "count_ticks",
    "duration_ticks",
    "grouped_bar_chart",
    "iso_duration",
    "month_label",
    "monthly_stacked_chart",
    "months_between",
]


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    width: float = WIDTH,
    empty_message: str | None = None,
    loc: PageLocale | None = None,
) -> Markup:
    """A horizontal bar chart of counts, one labelled bar per row, its value at its end."""
    loc = loc or english()
    if not bars:
        return empty_chart(
            chart_id, title, description, empty_message or loc.gettext(NO_DATA), width
        )
    label_w = min(width * 0.4, max(80.0, max(text_width(b.label) for b in bars) + 18))
    value_w = 78.0
    plot_x, plot_w = label_w, width - label_w - value_w
    top, row_h, bar_h = 28.0, 30.0, 20.0
    height = top + row_h * len(bars) + 6
    numbers = [n for n in (numeric(b.value) for b in bars) if n is not None]
    ticks = count_ticks(max(numbers, default=0))
    scale = plot_w / ticks[-1]

    parts = open_svg(chart_id, title, description, height, width)
    parts.append(f"<defs>{hatch(chart_id, 0, BAR_COLOUR)}</defs>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t in ticks:
        x = plot_x + t * scale
        parts.append(
            f'<line x1="{fmt(x)}" y1="{top - 6}" x2="{fmt(x)}" y2="{fmt(height - 4)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{fmt(x)}" y="{top - 11}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(loc.count(t))}</text>'
        )
    parts.append("</g>")
    for i, bar in enumerate(bars):
        y = top + i * row_h + (row_h - bar_h) / 2
        text_y = y + bar_h / 2 + 4.5
        fits = int((label_w - 14) / (13 * 0.56))
        shown = bar.label if len(bar.label) <= fits else bar.label[: fits - 1] + "…"
        parts.append(
            f'<text x="{fmt(label_w - 10)}" y="{fmt(text_y)}" text-anchor="end">'
            f"{escape(shown)}</text>"
        )
        number = numeric(bar.value)
        tooltip = f"{bar.label}: {loc.count(bar.value)}"
        if number is None:
            width, fill = STUB_PX, f"url(#{chart_id}-hatch-0)"
        else:
            width, fill = (max(1.5, number * scale) if number else 0.0), BAR_COLOUR
        parts.append(
            mark(
                x=plot_x, y=y, w=width, h=bar_h, value=bar.value, label=bar.label,
                fill=fill, tooltip=tooltip,
            )
        )  # fmt: skip
        parts.append(
            f'<text class="value" x="{fmt(plot_x + width + 6)}" y="{fmt(text_y)}" '
            f'font-weight="600">{escape(loc.count(bar.value))}</text>'
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
    empty_message: str | None = None,
    loc: PageLocale | None = None,
) -> Markup:
    """Vertical columns per month ("YYYY-MM"), stacked by series, with a legend on top."""
    loc = loc or english()
    if not months or not series:
        return empty_chart(chart_id, title, description, empty_message or loc.gettext(NO_DATA))
    stub_legend = loc.gettext(STUB_LEGEND)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]

    # Legend: swatch and name, wrapped over as many lines as it needs.
    legend: list[tuple[float, float, int]] = []
    x, y = 0.0, 0.0
    for i, s in enumerate(series):
        item_w = 22 + text_width(s.name) + 18
        if x and x + item_w > WIDTH:
            x, y = 0.0, y + 22
        legend.append((x, y, i))
        x += item_w
    has_stubs = any(isinstance(v, str) for s in series for v in s.values)
    if has_stubs:
        item_w = 22 + text_width(stub_legend) + 18
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
        numeric_sums.append(sum(n for n in (numeric(v) for v in values) if n is not None))
        stubs.append(sum(1 for v in values if isinstance(v, str)))
    ticks = count_ticks(max(numeric_sums, default=0))
    scale = (plot_h - STUB_PX * max(stubs, default=0)) / ticks[-1]
    col_w = plot_w / len(months)
    bar_w = min(34.0, col_w * 0.72)

    parts = open_svg(chart_id, title, description, height)
    parts.append("<defs>" + "".join(hatch(chart_id, i, c) for i, c in enumerate(colours)))
    parts.append(hatch(chart_id, "stub", MUTED) + "</defs>")
    parts.append('<g class="legend">')
    for lx, ly, i in legend:
        parts.append(
            f'<rect x="{fmt(lx)}" y="{fmt(ly)}" width="14" height="14" rx="2" '
            f'fill="{colours[i]}"/>'
            f'<text x="{fmt(lx + 20)}" y="{fmt(ly + 12)}">{escape(series[i].name)}</text>'
        )
    if has_stubs:
        sx, sy = stub_at
        parts.append(
            f'<rect x="{fmt(sx)}" y="{fmt(sy)}" width="14" height="14" rx="2" '
            f'fill="url(#{chart_id}-hatch-stub)" stroke="{MUTED}" stroke-width="1"/>'
            f'<text x="{fmt(sx + 20)}" y="{fmt(sy + 12)}">{escape(stub_legend)}</text>'
        )
    parts.append("</g>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t in ticks:
        ty = base - t * scale
        parts.append(
            f'<line x1="{plot_x}" y1="{fmt(ty)}" x2="{WIDTH - right}" y2="{fmt(ty)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{plot_x - 8}" y="{fmt(ty + 4)}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}">{escape(loc.count(t))}</text>'
        )
    for m, show_month, show_year in _month_ticks(months, math.ceil(44 / col_w)):
        cx = plot_x + col_w * m + col_w / 2
        year, mon = months[m].split("-")
        if show_month:
            parts.append(
                f'<text x="{fmt(cx)}" y="{fmt(base + 16)}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(loc.month_short(int(mon)))}</text>'
            )
        if show_year:
            parts.append(
                f'<text x="{fmt(cx)}" y="{fmt(base + 32)}" text-anchor="middle" '
                f'font-size="11" font-weight="600" fill="{MUTED}">{escape(year)}</text>'
            )
    parts.append(
        f'<line x1="{plot_x}" y1="{fmt(base)}" x2="{WIDTH - right}" y2="{fmt(base)}" '
        f'stroke="{MUTED}" stroke-width="1"/></g>'
    )
    for m, month in enumerate(months):
        x0 = plot_x + col_w * m + (col_w - bar_w) / 2
        y_top = base
        for i, s in enumerate(series):
            value = s.values[m]
            number = numeric(value)
            if number == 0 or value is None:
                continue
            h = STUB_PX if number is None else number * scale
            y_top -= h
            fill = f"url(#{chart_id}-hatch-{i})" if number is None else colours[i]
            label = f"{loc.month(month)} · {s.name}"
            parts.append(
                mark(
                    x=x0, y=y_top, w=bar_w, h=h, value=value, label=label, fill=fill,
                    tooltip=f"{label}: {loc.count(value)}", css_class="segment",
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
    missing_text: str | None = None,
    empty_message: str | None = None,
    loc: PageLocale | None = None,
) -> Markup:
    """Horizontal bars in groups (e.g. per platform), one labelled row per series."""
    loc = loc or english()
    if not groups or not series:
        return empty_chart(chart_id, title, description, empty_message or loc.gettext(NO_DATA))
    missing_text = missing_text or loc.count(None)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    label_w = min(250.0, max(110.0, max(text_width(s.name, 12) for s in series) + 40))
    value_w = 120.0
    plot_x, plot_w = label_w, WIDTH - label_w - value_w
    top, head_h, row_h, bar_h, gap = 28.0, 24.0, 24.0, 16.0, 12.0
    height = top + len(groups) * (head_h + row_h * len(series) + gap)
    numbers = [n for s in series for n in (numeric(v) for v in s.values) if n is not None]
    if kind == "duration":
        ticks, unit, per = duration_ticks(max(numbers, default=0))
        tick_labels = [loc.amount(round(t / per), unit) for t in ticks]
    else:
        ticks = [float(t) for t in count_ticks(max(numbers, default=0))]
        tick_labels = [loc.count(int(t)) for t in ticks]

    def value_text(v: Value) -> str:
        n = numeric(v)
        return loc.duration(n) if kind == "duration" and n is not None else loc.count(v)

    scale = plot_w / ticks[-1] if ticks[-1] else 0.0
    text_class = ' class="duration"' if kind == "duration" else ""
    mark_class = "bar duration" if kind == "duration" else "bar"

    parts = open_svg(chart_id, title, description, height)
    parts.append("<defs>" + "".join(hatch(chart_id, i, c) for i, c in enumerate(colours)))
    parts.append("</defs>")
    parts.append('<g class="axis" aria-hidden="true">')
    for t, tick_label in zip(ticks, tick_labels, strict=True):
        x = plot_x + t * scale
        parts.append(
            f'<line x1="{fmt(x)}" y1="{top - 6}" x2="{fmt(x)}" y2="{fmt(height - gap)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick{" duration" if kind == "duration" else ""}" x="{fmt(x)}" '
            f'y="{top - 11}" text-anchor="middle" font-size="11" fill="{MUTED}">'
            f"{escape(tick_label)}</text>"
        )
    parts.append("</g>")
    y = top
    for g, group in enumerate(groups):
        parts.append(f'<text x="0" y="{fmt(y + 17)}" font-weight="700">{escape(group)}</text>')
        y += head_h
        for i, s in enumerate(series):
            value = s.values[g]
            number = numeric(value)
            by = y + (row_h - bar_h) / 2

            text_y = by + bar_h / 2 + 4.5
            parts.append(
                f'<text x="{fmt(label_w - 10)}" y="{fmt(text_y)}" text-anchor="end" '
                f'font-size="12" fill="{MUTED}">{escape(s.name)}</text>'
            )
            label = f"{group} · {s.name}"
            if value is None:
                parts.append(
                    f'<text x="{fmt(plot_x + 4)}" y="{fmt(text_y)}" font-style="italic" '
                    f'font-size="12" fill="{MUTED}">{escape(missing_text)}</text>'
                )
            else:
                width = STUB_PX if number is None else (max(1.5, number * scale) if number else 0.0)
                fill = f"url(#{chart_id}-hatch-{i})" if number is None else colours[i]
                shown = value_text(value)
                parts.append(
                    mark(
                        x=plot_x, y=by, w=width, h=bar_h, value=value, label=label,
                        fill=fill, tooltip=f"{label}: {shown}", css_class=mark_class,
                    )
                )  # fmt: skip
                parts.append(
                    f'<text{text_class} x="{fmt(plot_x + width + 6)}" y="{fmt(text_y)}" '
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
    return [days.month_label(m) for m in days.months_between(first, last)]
