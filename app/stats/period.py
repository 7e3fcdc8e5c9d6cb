"""The period a transparency report covers: whole calendar months, as a visitor asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.errors import field_error
from app.kit import days
from app.stats import charts
from app.stats.public_schemas import PeriodOut

DEFAULT_MONTHS = 24
MAX_MONTHS = 120
EARLIEST_YEAR = 2000


@dataclass(frozen=True)
class Period:
    """Whole calendar months, first to last inclusive."""

    first: date
    last: date

    @property
    def months(self) -> list[str]:
        """Every month of the period as YYYY-MM."""
        return charts.months_between(self.first, self.last)

    @property
    def date_from(self) -> date:
        """First day of the period."""
        return self.first

    @property
    def date_to(self) -> date:
        """First day after the period (exclusive end)."""
        return days.next_month(self.last)

    @property
    def label(self) -> str:
        """ "July 2023 to June 2025"."""
        first = charts.month_label(days.month_label(self.first))
        last = charts.month_label(days.month_label(self.last))
        return first if first == last else f"{first} to {last}"

    def out(self) -> PeriodOut:
        """The period as published."""
        return PeriodOut.model_validate(
            {
                "from": days.month_label(self.first),
                "to": days.month_label(self.last),
                "label": self.label,
            }
        )


def _month(value: str, name: str) -> date:
    try:
        return days.parse_month(value)
    except ValueError as exc:
        raise field_error(name, str(exc)) from None


def parse_period(
    *, month_from: str | None, month_to: str | None, year: int | None, today: date
) -> Period:
    """The period a visitor asked for; by default the last 24 months including this one."""
    current = days.month_start(today)
    if year is not None:
        if month_from is not None or month_to is not None:
            raise field_error("year", "give either year or from/to, not both")
        first, last = date(year, 1, 1), min(date(year, 12, 1), current)
    else:
        last = _month(month_to, "to") if month_to else current
        first = (
            _month(month_from, "from")
            if month_from
            else days.add_months(last, -(DEFAULT_MONTHS - 1))
        )
    if first.year < EARLIEST_YEAR:
        raise field_error("from" if year is None else "year", f"must not be before {EARLIEST_YEAR}")
    if last > current or first > current:
        raise field_error("to" if year is None else "year", "must not be after the current month")
    if first > last:
        raise field_error("from", "must not be after to")
    if len(days.months_between(first, last)) > MAX_MONTHS:
        raise field_error("from", f"the period can be at most {MAX_MONTHS} months")
    return Period(first, last)
