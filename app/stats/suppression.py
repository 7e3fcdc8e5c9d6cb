"""Statistical disclosure control for everything published: small counts and their complements.

Primary suppression: a count from one to four is printed as "<5". Zero is printed as 0 (an
empty cell describes no one, and hiding it would make every empty month look suspicious).

Secondary (complementary) suppression: a published total minus the published cells it
covers must not give back a suppressed cell. The published tables are linked by sums (the
headline total is the sum of the countries and also of the platforms, each platform's total
is the sum of its months, ...). We write each such sum down as an equation and treat the
suppressed cells as unknowns; a cell is exposed when

- linear algebra recovers it exactly: its unit vector lies in the row space of the
  equations restricted to the unknowns (any combination of totals and differences), or
- the known bounds pin it: a suppressed count is 1..4, a withheld one at least 5, and
  propagating those bounds through the equations leaves it a single possible value.

While some cell is exposed, the smallest published cell that shares a sum with it (cells
that are not themselves totals first) is withheld too, printed as "withheld". The loop
ends because every round withholds one more cell.

What this does not cover: numbers published on another page. Every period the page can
show is summed from exact counts, so two overlapping periods differenced can give back a
month's small count. README (Transparency page) says so and what an operator can do.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction

THRESHOLD = 5
PRIMARY = "<5"
SECONDARY = "withheld"

Published = int | str
"""A count as printed: the exact number, PRIMARY (1 to 4) or SECONDARY (5 or more)."""


def primary(value: int) -> Published:
    """One count on its own: 1 to 4 becomes "<5"; 0 and 5 or more are printed as they are."""
    return PRIMARY if 0 < value < THRESHOLD else value


def is_suppressed(value: Published) -> bool:
    """True for the printed forms that hide the number."""
    return isinstance(value, str)


class DisclosureControl:
    """Collects the cells of a page and the sums that link them, then decides what to print."""

    def __init__(self) -> None:
        self._values: dict[Hashable, int] = {}
        self._sums: list[tuple[Hashable, tuple[Hashable, ...]]] = []

    def cell(self, key: Hashable, value: int) -> Hashable:
        """Register a count that will be printed; returns its key."""
        if value < 0:
            raise ValueError(f"a count cannot be negative: {key!r}={value}")
        self._values[key] = int(value)
        return key

    def add_sum(self, total: Hashable, parts: Iterable[Hashable]) -> None:
        """Record that the printed total equals the sum of the printed parts."""
        members = tuple(dict.fromkeys(parts))
        for key in (total, *members):
            if key not in self._values:
                raise KeyError(f"unknown cell {key!r}")
        if total in members:
            raise ValueError(f"{total!r} cannot be a part of itself")
        self._sums.append((total, members))

    def protect(self) -> dict[Hashable, Published]:
        """Every cell as it may be printed, after primary and complementary suppression."""
        hidden: dict[Hashable, str] = {
            key: PRIMARY for key, value in self._values.items() if 0 < value < THRESHOLD
        }
        while True:
            exposed = self._exposed(hidden)
            if exposed is None:
                break
            hidden[self._complement_for(exposed, hidden)] = SECONDARY
        return {key: hidden.get(key, value) for key, value in self._values.items()}

    # -- which hidden cell could a reader work out? ------------------------------------

    def _equations(self, hidden: Mapping[Hashable, str]) -> list[tuple[dict[Hashable, int], int]]:
        """Each sum as `coefficients . unknowns = constant`, for sums with an unknown."""
        out = []
        for total, parts in self._sums:
            coefficients: dict[Hashable, int] = {}
            constant = 0
            for key, sign in ((total, 1), *((p, -1) for p in parts)):
                if key in hidden:
                    coefficients[key] = sign
                else:
                    constant -= sign * self._values[key]
            if coefficients:
                out.append((coefficients, constant))
        return out

    def _exposed(self, hidden: Mapping[Hashable, str]) -> Hashable | None:
        """A hidden cell that the printed numbers give back, or None when all are safe."""
        equations = self._equations(hidden)
        if not equations:
            return None
        unknowns = sorted({k for coeffs, _ in equations for k in coeffs}, key=repr)
        solved = _determined(unknowns, [coeffs for coeffs, _ in equations])
        if solved:
            return solved[0]
        return _pinned_by_bounds(unknowns, equations, hidden)

    def _complement_for(self, exposed: Hashable, hidden: Mapping[Hashable, str]) -> Hashable:
        """The published cell to withhold so that the exposed one is protected again."""
        totals = {total for total, _ in self._sums}

        def candidates(sums: Iterable[tuple[Hashable, tuple[Hashable, ...]]]) -> list[Hashable]:
            keys = {k for total, parts in sums for k in (total, *parts)}
            return [k for k in keys if k not in hidden and self._values[k] > 0]

        near = candidates(s for s in self._sums if exposed in (s[0], *s[1]))
        if not near:
            near = candidates(s for s in self._sums if any(k in hidden for k in (s[0], *s[1])))
        if not near:  # pragma: no cover - a hidden cell is only exposed by a non-zero cell
            raise RuntimeError(f"no cell can protect {exposed!r}")
        return min(near, key=lambda k: (k in totals, self._values[k], repr(k)))


def _determined(unknowns: list[Hashable], rows: list[dict[Hashable, int]]) -> list[Hashable]:
    """Unknowns whose value follows from the equations alone (exact linear algebra).

    In the reduced row echelon form, e_j is in the row space exactly when some row is e_j.
    """
    index = {key: i for i, key in enumerate(unknowns)}
    matrix = [[Fraction(0)] * len(unknowns) for _ in rows]
    for r, coeffs in enumerate(rows):
        for key, sign in coeffs.items():
            matrix[r][index[key]] = Fraction(sign)
    pivot_row = 0
    for col in range(len(unknowns)):
        found = next((r for r in range(pivot_row, len(matrix)) if matrix[r][col] != 0), None)
        if found is None:
            continue
        matrix[pivot_row], matrix[found] = matrix[found], matrix[pivot_row]
        lead = matrix[pivot_row][col]
        matrix[pivot_row] = [v / lead for v in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [
                    a - factor * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)
                ]
        pivot_row += 1
        if pivot_row == len(matrix):
            break
    solved = []
    for row in matrix[:pivot_row]:
        nonzero = [c for c, v in enumerate(row) if v != 0]
        if len(nonzero) == 1:
            solved.append(unknowns[nonzero[0]])
    return solved


def _pinned_by_bounds(
    unknowns: list[Hashable],
    equations: list[tuple[dict[Hashable, int], int]],
    hidden: Mapping[Hashable, str],
) -> Hashable | None:
    """An unknown that interval propagation narrows to one value, given the printed bounds.

    A "<5" cell is known to be 1..4 and a withheld one at least 5 (the rule is public), so
    e.g. a total of 6 over one "<5" cell and one withheld cell gives both away.
    """
    low: dict[Hashable, float] = {}
    high: dict[Hashable, float] = {}
    for key in unknowns:
        low[key], high[key] = (
            (1, THRESHOLD - 1) if hidden[key] == PRIMARY else (THRESHOLD, math.inf)
        )
    for _ in range(4 * len(unknowns) + 4):
        changed = False
        for coeffs, constant in equations:
            for key, sign in coeffs.items():
                # sign * x = constant - sum(others); bound the others' sum.
                rest_low = rest_high = 0.0
                for other, s in coeffs.items():
                    if other == key:
                        continue
                    if s > 0:
                        rest_low += low[other]
                        rest_high += high[other]
                    else:
                        rest_low -= high[other]
                        rest_high -= low[other]
                if sign > 0:
                    new_low, new_high = constant - rest_high, constant - rest_low
                else:
                    new_low, new_high = rest_low - constant, rest_high - constant
                if new_low > low[key]:
                    low[key], changed = new_low, True
                if new_high < high[key]:
                    high[key], changed = new_high, True
                if low[key] > high[key]:
                    # Inconsistent input (sums that do not add up): stop narrowing, and
                    # let the caller protect the cell rather than trust the bounds.
                    return key
        if not changed:
            break
    for key in unknowns:
        if low[key] == high[key]:
            return key
    return None
