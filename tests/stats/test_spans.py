"""How a range is split between month and day tables (pure)."""

from __future__ import annotations

from datetime import date

from app.stats.repository import Span, spans

TODAY = date(2026, 11, 23)


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_whole_months_come_from_the_month_tables_and_edges_from_the_day_tables():
    assert spans(d("2026-01-16"), d("2026-04-02"), daily=False, today=TODAY) == [
        Span("month", d("2026-02-01"), d("2026-04-01")),
        Span("day", d("2026-01-16"), d("2026-02-01")),
        Span("day", d("2026-04-01"), d("2026-04-02")),
    ]
    assert spans(d("2026-01-01"), d("2026-03-01"), daily=False, today=TODAY) == [
        Span("month", d("2026-01-01"), d("2026-03-01"))
    ]


def test_a_range_inside_one_month_or_grouped_by_day_is_all_days():
    assert spans(d("2026-02-01"), d("2026-02-28"), daily=False, today=TODAY) == [
        Span("day", d("2026-02-01"), d("2026-02-28"))
    ]
    assert spans(d("2026-01-01"), d("2026-03-01"), daily=True, today=TODAY) == [
        Span("day", d("2026-01-01"), d("2026-03-01"))
    ]


def test_a_range_past_today_reads_its_last_month_whole():
    # Nothing has closed after today, so [Nov 1, Nov 24) is the whole of November so far.
    assert spans(d("2025-12-01"), d("2026-11-24"), daily=False, today=TODAY) == [
        Span("month", d("2025-12-01"), d("2026-12-01"))
    ]
    # But a range ending today (exclusive) or earlier must not.
    assert spans(d("2025-12-01"), d("2026-11-23"), daily=False, today=TODAY) == [
        Span("month", d("2025-12-01"), d("2026-11-01")),
        Span("day", d("2026-11-01"), d("2026-11-23")),
    ]


def test_an_empty_range_reads_nothing():
    assert spans(d("2026-03-01"), d("2026-03-01"), daily=False, today=TODAY) == []
