"""The differencing attack, scripted: what a member of the public can work out by
subtracting one published number from another.

Every published count stands for a region: a set of atoms (country, platform, month,
action for flag outcomes; platform and source for self-reported totals; platform for
timings) over the months of its report. When one number's region holds another's, their
difference is the exact count of the rest. The attack succeeds when such a difference is
a count from one to four that some published document hid ("<5" or "withheld").

Two revisions of one period are differenced too (`small_changes`): each number's change,
and the change of what lies between two nested numbers, must be 0 or at least five.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import permutations
from typing import Any

from app.vocabulary import OUTCOME_ACTIONS

SUSPENDED = "account_suspended"
Region = frozenset[tuple[Any, ...]]


@dataclass(frozen=True)
class Cell:
    """One published number: where it was read, what it counts, what it shows."""

    where: str
    region: Region
    value: int | str


@dataclass(frozen=True)
class Recovery:
    """A hidden count worked out from two published numbers."""

    minuend: Cell
    subtrahend: Cell
    count: int


def _universe(documents: Iterable[dict[str, Any]]) -> tuple[set[str], set[str]]:
    countries: set[str] = set()
    platforms: set[str] = set()
    for doc in documents:
        countries |= {r["country"] for r in doc["suspensions_by_country"]}
        platforms |= {r["platform"] for r in doc["suspensions_by_platform"]}
    return countries, platforms


def cells(documents: dict[str, dict[str, Any]]) -> list[Cell]:
    """Every number of every document (named by where it was read) with its region."""
    countries, platforms = _universe(documents.values())
    out: list[Cell] = []
    for where, doc in documents.items():
        months = [m["month"] for m in doc["suspensions_by_month"]["months"]]
        period = doc["period"]["id"]

        def outcomes(
            c: Iterable[str] = countries,
            p: Iterable[str] = platforms,
            m: Iterable[str] = months,
            a: Iterable[str] = OUTCOME_ACTIONS,
        ) -> Region:
            return frozenset(("outcome", *k) for k in _product(c, p, m, a))

        def add(label: str, region: Region, value: int | str, where: str = where) -> None:
            out.append(Cell(f"{where} {label}", region, value))

        totals = doc["totals"]
        add("suspensions", outcomes(a=[SUSPENDED]), totals["suspensions"])
        add("flags_answered", outcomes(), totals["flags_answered"])
        for r in doc["suspensions_by_country"]:
            add(r["country"], outcomes(c=[r["country"]], a=[SUSPENDED]), r["count"])
        for r in doc["suspensions_by_platform"]:
            add(r["platform"], outcomes(p=[r["platform"]], a=[SUSPENDED]), r["count"])
        for m in doc["suspensions_by_month"]["months"]:
            for p, value in m["counts"].items():
                add(f"{m['month']} {p}", outcomes(p=[p], m=[m["month"]], a=[SUSPENDED]), value)
        for r in doc["outcomes_by_action"]:
            add(r["action"], outcomes(a=[r["action"]]), r["count"])
        own, other = "own_detection", "other"
        every = [("self", p, s, period) for p in platforms for s in (own, other)]
        add("self_reported", frozenset(every), totals["self_reported_suspensions"])
        for r in doc["platform_reports"]:
            p = r["platform"]
            add(f"{p} own", frozenset({("self", p, own, period)}), r["self_reported_own_detection"])
            add(f"{p} other", frozenset({("self", p, other, period)}), r["self_reported_other"])
            both = frozenset({("self", p, own, period), ("self", p, other, period)})
            add(f"{p} self total", both, r["self_reported_total"])
        for r in doc["response_times"]:
            for step in ("acknowledge", "outcome"):
                region = frozenset({(step, r["platform"], m) for m in months})
                add(f"{r['platform']} {step}", region, r[step]["flags"])
    return out


def _product(*axes: Iterable[str]) -> Iterator[tuple[str, ...]]:
    if not axes:
        yield ()
        return
    for head in axes[0]:
        for rest in _product(*axes[1:]):
            yield (head, *rest)


def recoveries(published: list[Cell]) -> list[Recovery]:
    """Every hidden count from one to four that one number minus another gives back."""
    hidden = {c.region for c in published if isinstance(c.value, str)}
    shown = [c for c in published if isinstance(c.value, int)]
    found = []
    for big, small in permutations(shown, 2):
        assert isinstance(big.value, int) and isinstance(small.value, int)
        if small.region < big.region:
            rest = big.region - small.region
            count = big.value - small.value
            if rest in hidden and 1 <= count <= 4:
                found.append(Recovery(big, small, count))
    return found


@dataclass(frozen=True)
class Change:
    """How much a count changed between two revisions, worked out from published numbers."""

    what: str
    change: int


def _shown_by_region(published: list[Cell], prefix: str) -> dict[Region, tuple[str, int]]:
    """Each region a document shows as a number: a label and the number."""
    out: dict[Region, tuple[str, int]] = {}
    for c in published:
        if c.where.startswith(prefix) and isinstance(c.value, int):
            out.setdefault(c.region, (c.where.removeprefix(prefix), c.value))
    return out


def revision_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change between two revisions of one period that their numbers pin down: each
    number's own change, and for every pair of numbers where one's region holds the
    other's, the change of the rest ((new big - new small) - (old big - old small))."""
    published = cells({"old": old, "new": new})
    before = _shown_by_region(published, "old ")
    after = _shown_by_region(published, "new ")
    both = {r: (before[r], after[r]) for r in before.keys() & after.keys()}
    out = [Change(label, n - o) for (label, o), (_, n) in both.values()]
    for big, small in permutations(both, 2):
        if small < big:
            (big_label, old_big), (_, new_big) = both[big]
            (small_label, old_small), (_, new_small) = both[small]
            change = (new_big - new_small) - (old_big - old_small)
            out.append(Change(f"{big_label} minus {small_label}", change))
    return out


def small_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The changes between two revisions that are counts from one to four in size."""
    return [c for c in revision_changes(old, new) if 1 <= abs(c.change) < 5]


def pinned_by_the_rule(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Counts shown as "<5" in one revision and printed in the other, pinned by the public
    rule that a correction changes every count by 0 or at least five."""
    published = cells({"old": old, "new": new})
    out = []
    for hidden_in, shown_in in (("old ", "new "), ("new ", "old ")):
        shown = _shown_by_region(published, shown_in)
        for c in published:
            if c.where.startswith(hidden_in) and c.value == "<5" and c.region in shown:
                value = shown[c.region][1]
                possible = [x for x in range(1, 5) if abs(x - value) >= 5]
                if len(possible) == 1:
                    out.append(Change(c.where, possible[0]))
    return out
