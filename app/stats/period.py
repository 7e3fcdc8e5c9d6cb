"""The periods a published transparency report covers: calendar half-years, quarters or years.

The public sees only whole periods of these fixed shapes, never a range of its own choosing:
two periods of one granularity never overlap, so no published number can be subtracted
from another to give back a small count. A period is named `2026-H1`, `2026-Q3` or `2026`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from app.kit import days
from app.stats import charts
from app.stats.public_schemas import PeriodOut

Granularity = Literal["half", "quarter", "year"]
MONTHS: dict[str, int] = {"half": 6, "quarter": 3, "year": 12}
NAME_PATTERN = r"^\d{4}(-H[12]|-Q[1-4])?$"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Period:
    """Whole calendar months, first to last inclusive, with the period's public name."""

    first: date
    last: date
    name: str

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
        """ "January 2026 to June 2026"."""
        first = charts.month_label(days.month_label(self.first))
        last = charts.month_label(days.month_label(self.last))
        return first if first == last else f"{first} to {last}"

    def overlaps(self, first: date, last: date) -> bool:
        """Whether the period shares a month with first..last."""
        return self.first <= last and first <= self.last

    def out(self) -> PeriodOut:
        """The period as published."""
        return PeriodOut.model_validate(
            {
                "id": self.name,
                "from": days.month_label(self.first),
                "to": days.month_label(self.last),
                "label": self.label,
            }
        )


def _named(first: date, granularity: str) -> Period:
    """The period of the granularity that starts at first."""
    last = days.add_months(first, MONTHS[granularity] - 1)
    if granularity == "year":
        name = f"{first.year}"
    elif granularity == "half":
        name = f"{first.year}-H{1 + (first.month - 1) // 6}"
    else:
        name = f"{first.year}-Q{1 + (first.month - 1) // 3}"
    return Period(first, last, name)


def containing(day: date, granularity: str) -> Period:
    """The period of the granularity that contains day."""
    size = MONTHS[granularity]
    return _named(date(day.year, 1 + (day.month - 1) // size * size, 1), granularity)


def following(period: Period) -> Period:
    """The next period of the same granularity."""
    return containing(period.date_to, granularity_of(period.name))


def granularity_of(name: str) -> str:
    """`half`, `quarter` or `year`, from a period's name."""
    return "half" if "-H" in name else "quarter" if "-Q" in name else "year"


def parse_name(name: str) -> Period | None:
    """The period a name such as `2026-H1`, `2026-Q3` or `2026` stands for (None if none)."""
    if not _NAME.fullmatch(name) or int(name[:4]) < 2000:
        return None
    year = int(name[:4])
    granularity = granularity_of(name)
    index = int(name[-1]) if granularity != "year" else 1
    return _named(date(year, 1 + (index - 1) * MONTHS[granularity], 1), granularity)
