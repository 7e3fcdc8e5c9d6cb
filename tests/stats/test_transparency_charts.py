"""Server-drawn SVG charts: accessible, escaped, scalable, and blind to hidden numbers."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from app.stats import charts
from app.stats.charts import Bar, Series
from app.stats.i18n import english


def parse(svg: str) -> ET.Element:
    """The chart as XML (it must be well-formed to be inlined safely)."""
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if "data-value" in e.attrib]


def assert_accessible(root: ET.Element, chart_id: str) -> None:
    assert root.tag == "svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    assert root.find("title").get("id") == f"{chart_id}-title"  # type: ignore[union-attr]
    assert root.find("desc").get("id") == f"{chart_id}-desc"  # type: ignore[union-attr]
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox", ""))
    assert root.get("width") is None and root.get("height") is None  # scales with the page
    assert "script" not in {e.tag for e in root.iter()}
    assert not any(k.startswith("on") for e in root.iter() for k in e.attrib)


def test_bar_chart_draws_a_labelled_mark_per_bar():
    bars = [Bar("Indonesia", 1234), Bar("Brunei Darussalam", "<5"), Bar("Myanmar", 0)]
    root = parse(
        charts.bar_chart(chart_id="c-country", title="By country", description="d", bars=bars)
    )
    assert_accessible(root, "c-country")
    found = marks(root)
    assert [m.get("data-label") for m in found] == ["Indonesia", "Brunei Darussalam", "Myanmar"]
    assert [m.get("data-value") for m in found] == ["1234", "<5", "0"]
    texts = [t.text for t in root.iter("text")]
    assert "1,234" in texts and "<5" in texts and "Brunei Darussalam" in texts


def test_suppressed_values_are_fixed_hatched_stubs_whatever_the_scale():
    small = parse(
        charts.bar_chart(
            chart_id="a", title="t", description="d", bars=[Bar("x", 10), Bar("y", "<5")]
        )
    )
    large = parse(
        charts.bar_chart(
            chart_id="b", title="t", description="d", bars=[Bar("x", 90000), Bar("y", "<5")]
        )
    )
    for root in (small, large):
        stub = marks(root)[1]
        assert float(stub.get("width", "")) == charts.STUB_PX
        assert stub.get("fill", "").startswith("url(#")
    withheld = parse(
        charts.bar_chart(chart_id="w", title="t", description="d", bars=[Bar("z", "withheld")])
    )
    assert marks(withheld)[0].get("data-value") == "withheld"


def test_labels_and_titles_are_escaped():
    nasty = '<script>alert("x")</script> & "quotes"'
    svg = charts.bar_chart(chart_id="e", title=nasty, description=nasty, bars=[Bar(nasty, 7)])
    assert "<script>" not in svg
    root = parse(svg)  # well-formed despite the markup in the data
    assert root.find("title").text == nasty  # type: ignore[union-attr]
    assert marks(root)[0].get("data-label") == nasty


def test_chart_ids_are_checked():
    with pytest.raises(ValueError):
        charts.bar_chart(chart_id='x" onload="y', title="t", description="d", bars=[])


def test_empty_charts_say_so():
    root = parse(charts.bar_chart(chart_id="empty", title="t", description="d", bars=[]))
    assert_accessible(root, "empty")
    assert marks(root) == []
    assert "No data for this period" in "".join(root.itertext())


def test_count_axis_never_labels_a_number_from_one_to_four():
    for maximum in (0, 1, 3, 4, 7, 12, 49, 51, 99, 101, 999, 1234, 274460, 1210357):
        ticks = charts.count_ticks(maximum)
        assert ticks[0] == 0 and ticks[-1] >= maximum
        assert len(ticks) <= 7
        assert all(t == 0 or t >= 5 for t in ticks)


def test_duration_axis_ticks_are_zero_or_at_least_five_units():
    for maximum in (0.4, 3, 59, 61, 600, 3599, 3 * 3600, 30 * 3600, 9 * 86400, 200 * 86400):
        ticks, unit, per = charts.duration_ticks(maximum)
        assert ticks[0] == 0 and ticks[-1] >= maximum
        assert all(t == 0 or t / per >= 5 for t in ticks), (maximum, ticks, unit)


def test_durations_read_naturally():
    # CLDR's short units (app/stats/i18n.py), in the page's English.
    duration = english().duration
    assert duration(42) == "42 sec"
    assert duration(12 * 60) == "12 min"
    assert duration(3 * 3600 + 20 * 60) == "3 hr 20 min"
    assert duration(3 * 3600) == "3 hr"
    assert duration(2 * 86400 + 4 * 3600) == "2 days 4 hr"
    assert charts.iso_duration(3 * 3600 + 20 * 60) == "PT3H20M"
    assert charts.iso_duration(0) == "PT0S"


def test_stacked_chart_has_a_legend_segments_and_a_hatched_key():
    months = ["2024-11", "2024-12", "2025-01"]
    series = [Series("Twitter", [10, 0, "<5"]), Series("YouTube", [6, "withheld", 0])]
    root = parse(
        charts.monthly_stacked_chart(
            chart_id="m", title="t", description="d", months=months, series=series
        )
    )
    assert_accessible(root, "m")
    found = marks(root)
    # Zero draws nothing; the rest draw, hidden ones as stubs.
    assert [(m.get("data-label"), m.get("data-value")) for m in found] == [
        ("November 2024 · Twitter", "10"),
        ("November 2024 · YouTube", "6"),
        ("December 2024 · YouTube", "withheld"),
        ("January 2025 · Twitter", "<5"),
    ]
    texts = [t.text for t in root.iter("text")]
    assert "Twitter" in texts and "YouTube" in texts
    assert charts.STUB_LEGEND in texts
    assert {"Nov", "Dec", "Jan", "2024", "2025"} <= set(texts)
    colours = {m.get("fill") for m in found if not m.get("fill", "").startswith("url(")}
    assert colours == {charts.PALETTE[0], charts.PALETTE[1]}


def test_month_labels_do_not_collide_over_two_years():
    months = charts.months_between(date(2024, 12, 1), date(2026, 11, 1))
    assert len(months) == 24
    ticks = charts._month_ticks(months)
    labelled = [i for i, show_month, _ in ticks if show_month]
    assert all(b - a >= 2 for a, b in itertools.pairwise(labelled))
    years = [i for i, _, show_year in ticks if show_year]
    assert [months[i] for i in years] == ["2025-01", "2026-01"]


def test_grouped_duration_chart_marks_durations_and_missing_values():
    root = parse(
        charts.grouped_bar_chart(
            chart_id="r",
            title="t",
            description="d",
            groups=["Twitter", "YouTube"],
            series=[
                Series("To acknowledge", [2400.0, None]),
                Series("To outcome", [19800.0, None]),
            ],
            kind="duration",
            missing_text="not shown: under five flags",
        )
    )
    assert_accessible(root, "r")
    found = marks(root)
    assert [m.get("data-value") for m in found] == ["2400", "19800"]
    assert all("duration" in m.get("class", "") for m in found)
    texts = [t.text for t in root.iter("text")]
    assert "40 min" in texts and "5 hr 30 min" in texts
    assert texts.count("not shown: under five flags") == 2
