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
  the smallest and largest value the equations allow (exact: linear programming over
  each group of linked sums) are the same.

Only small counts are protected this way; a withheld count of five or more that a reader
can work out is no disclosure by itself (unless it then gives a small one away, which the
check sees).

While some cell is exposed, one more published cell linked to it is withheld, printed as
"withheld": one that removes an exposure, preferring detail cells to totals, near to far
and small to large (see `_complement`). When nothing
published is left to withhold (four "<5" cells under a "<5" total can only be 1, 1, 1, 1),
that small total is printed as "withheld" as a last resort. The loop ends because every
round hides one more cell or turns one "<5" into "withheld".

What this does not cover: numbers published on another page. Every period the page can
show is summed from exact counts, so two overlapping periods differenced can give back a
month's small count. README (Transparency page) says so and what an operator can do.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Final, Literal

import highspy

THRESHOLD: Final = 5
PRIMARY: Final[Literal["<5"]] = "<5"
SECONDARY: Final[Literal["withheld"]] = "withheld"

Marker = Literal["<5", "withheld"]
Published = int | Marker
"""A count as printed: the exact number, PRIMARY (1 to 4) or SECONDARY (5 or more)."""


def _make_first_solver_quietly() -> None:
    """HiGHS writes its banner to file descriptor 1 when a process makes its first solver,
    before `silent()` can be called: it would break the CLI's `--json` output and the
    server's JSON log lines. So the first solver is made here, at import (one thread),
    with descriptor 1 pointed at /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_make_first_solver_quietly()


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
        self._headlines: set[Hashable] = set()

    def cell(self, key: Hashable, value: int, *, headline: bool = False) -> Hashable:
        """Register a count that will be printed; returns its key.

        A headline is withheld to protect another cell only when nothing else will do.
        """
        if value < 0:
            raise ValueError(f"a count cannot be negative: {key!r}={value}")
        self._values[key] = int(value)
        if headline:
            self._headlines.add(key)
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
        hidden: dict[Hashable, Marker] = {
            key: PRIMARY for key, value in self._values.items() if 0 < value < THRESHOLD
        }
        # Small totals printed as "withheld" because nothing published was left to hide
        # (see _last_resort); a reader cannot assume these are five or more.
        small_withheld: set[Hashable] = set()
        while True:
            exposed = self._exposed(hidden, small_withheld)
            if not exposed:
                break
            complement = self._complement(exposed, hidden, small_withheld)
            if complement is None:
                complement = self._last_resort(exposed, hidden)
                small_withheld.add(complement)
            hidden[complement] = SECONDARY
        return {key: hidden.get(key, value) for key, value in self._values.items()}

    # -- which hidden cell could a reader work out? ------------------------------------

    def _equations(self, hidden: Mapping[Hashable, Marker]) -> list[Equation]:
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

    def _exposed(
        self, hidden: Mapping[Hashable, Marker], small_withheld: set[Hashable]
    ) -> list[Hashable]:
        """The hidden cells that the printed numbers give back (none when all are safe)."""
        equations = self._equations(hidden)
        if not equations:
            return []
        # Only small counts need protecting: a withheld count of five or more that a reader
        # can work out gives nothing away by itself (the small ones are checked here).
        unknowns = sorted({k for coeffs, _ in equations for k in coeffs}, key=repr)
        solved = [
            k
            for k in _determined(unknowns, [coeffs for coeffs, _ in equations])
            if hidden[k] == PRIMARY or k in small_withheld
        ]
        if solved:
            return solved
        return _pinned_by_bounds(equations, hidden, small_withheld)

    def _complement(
        self,
        exposed: list[Hashable],
        hidden: Mapping[Hashable, Marker],
        small_withheld: set[Hashable],
    ) -> Hashable | None:
        """The published cell to withhold next so that the exposed cells are protected.

        Candidates are the published, non-zero cells linked to an exposed cell through
        sums and hidden cells. They are ranked: headlines last, detail cells before totals
        (a detail costs readers least), nearer before farther, smaller before larger. The
        first that actually reduces what is exposed is taken, headlines only if nothing
        else does; otherwise the first in rank (the next round continues from there).
        """
        totals = {total for total, _ in self._sums}
        members = [(total, *parts) for total, parts in self._sums]
        ranked: dict[Hashable, tuple[bool, bool, int, int, str]] = {}
        for cell in exposed:
            seen_cells, seen_sums, frontier, distance = {cell}, set[int](), {cell}, 0
            while frontier:
                ring = [
                    i
                    for i, keys in enumerate(members)
                    if i not in seen_sums and any(k in frontier for k in keys)
                ]
                seen_sums.update(ring)
                for k in {k for i in ring for k in members[i]}:
                    if k not in hidden and self._values[k] > 0:
                        rank = (
                            k in self._headlines,
                            k in totals,
                            distance,
                            self._values[k],
                            repr(k),
                        )
                        if k not in ranked or rank < ranked[k]:
                            ranked[k] = rank
                frontier = {k for i in ring for k in members[i] if k in hidden} - seen_cells
                seen_cells |= frontier
                distance += 1
        if not ranked:
            return None
        order = sorted(ranked, key=lambda k: ranked[k])
        ordinary = [k for k in order if k not in self._headlines]
        for candidate in [*ordinary[:_TRIES], *[k for k in order if k in self._headlines]]:
            trial = {**hidden, candidate: SECONDARY}
            if len(self._exposed(trial, small_withheld)) < len(exposed):
                if candidate in self._headlines and ordinary:
                    # A headline would fix it at once, but an ordinary cell now and
                    # another next round may too: keep the headline for last.
                    return ordinary[0]
                return candidate
        return order[0]

    def _last_resort(self, exposed: list[Hashable], hidden: Mapping[Hashable, Marker]) -> Hashable:
        """A "<5" total to print as "withheld" when no published cell is left to hide.

        Only bounds can expose a cell whose every neighbour is hidden: four "<5" cells under
        a "<5" total can only be 1, 1, 1 and 1. Printing that total as "withheld" (which
        then promises no lower bound of five) leaves the cells between 1 and 4 again.
        """
        totals = {total for total, _ in self._sums}
        small = {k for k in hidden if hidden[k] == PRIMARY and k in totals}
        near = {
            k
            for total, parts in self._sums
            if any(e in (total, *parts) for e in exposed)
            for k in (total, *parts)
        }
        pool = (small & near) or small
        if not pool:  # pragma: no cover - bounds only pin cells below a small total
            raise RuntimeError(f"nothing can protect {exposed!r}")
        return max(pool, key=lambda k: (self._values[k], repr(k)))


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


Equation = tuple[dict[Hashable, int], int]
_EPS = 1e-7  # HiGHS's own primal feasibility tolerance
_TRIES = 12  # candidates tried per round before settling for the best-ranked one


def _bounds(
    key: Hashable, hidden: Mapping[Hashable, Marker], small_withheld: set[Hashable]
) -> tuple[float, float]:
    """What a reader knows of a hidden cell: "<5" is 1..4; "withheld" is 5 or more, except
    a small total withheld as a last resort (at least 1)."""
    if hidden[key] == PRIMARY:
        return 1.0, float(THRESHOLD - 1)
    if key in small_withheld:
        return 1.0, math.inf
    return float(THRESHOLD), math.inf


def _components(equations: list[Equation]) -> list[list[Equation]]:
    """Equations grouped by shared unknowns (each group can be solved on its own)."""
    parent: dict[Hashable, Hashable] = {}

    def find(k: Hashable) -> Hashable:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for coeffs, _ in equations:
        keys = list(coeffs)
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    groups: dict[Hashable, list[Equation]] = {}
    for equation in equations:
        groups.setdefault(find(next(iter(equation[0]))), []).append(equation)
    return list(groups.values())


def _pinned_by_bounds(
    equations: list[Equation],
    hidden: Mapping[Hashable, Marker],
    small_withheld: set[Hashable],
) -> list[Hashable]:
    """Small hidden cells that the equations and the printed bounds leave one value.

    The range of each cell is computed exactly: with one equation, from the range of the
    rest of it; with several, by linear programming (min and max of the cell). The sums
    are totally unimodular in practice (a hierarchy of totals), so a range narrower than
    one whole number means a single possible count.
    """
    pinned = []
    for group in _components(equations):
        unknowns = sorted({k for coeffs, _ in group for k in coeffs}, key=repr)
        sensitive = [k for k in unknowns if hidden[k] == PRIMARY or k in small_withheld]
        if not sensitive:
            continue
        bounds = {k: _bounds(k, hidden, small_withheld) for k in unknowns}
        if len(group) == 1:
            ranges = {k: _one_equation_range(k, group[0], bounds) for k in sensitive}
        else:
            ranges = _lp_ranges(sensitive, unknowns, group, bounds)
        for key in sensitive:
            low, high = ranges[key]
            if math.floor(high + _EPS) <= math.ceil(low - _EPS):
                pinned.append(key)
    return pinned


def _one_equation_range(
    key: Hashable, equation: Equation, bounds: Mapping[Hashable, tuple[float, float]]
) -> tuple[float, float]:
    coeffs, constant = equation
    rest_low = rest_high = 0.0
    for other, sign in coeffs.items():
        if other == key:
            continue
        lo, hi = bounds[other]
        rest_low += lo if sign > 0 else -hi
        rest_high += hi if sign > 0 else -lo
    sign = coeffs[key]
    low, high = (
        (constant - rest_high, constant - rest_low)
        if sign > 0
        else (rest_low - constant, rest_high - constant)
    )
    own_low, own_high = bounds[key]
    return max(low, own_low), min(high, own_high)


def _lp_ranges(
    keys: list[Hashable],
    unknowns: list[Hashable],
    equations: list[Equation],
    bounds: Mapping[Hashable, tuple[float, float]],
) -> dict[Hashable, tuple[float, float]]:
    """The smallest and largest value of each of keys over the whole feasible region.

    One HiGHS model per group of linked sums; each range is two re-solves of it with one
    objective coefficient changed (HiGHS starts each from the previous basis).
    """
    index = {k: i for i, k in enumerate(unknowns)}
    solver = highspy.Highs()
    solver.silent()
    solver.addVars(
        len(unknowns),
        [bounds[k][0] for k in unknowns],
        [min(bounds[k][1], highspy.kHighsInf) for k in unknowns],
    )
    for coeffs, constant in equations:
        solver.addRow(
            constant,
            constant,
            len(coeffs),
            [index[k] for k in coeffs],
            [float(sign) for sign in coeffs.values()],
        )
    ranges = {}
    for key in keys:
        solver.changeColCost(index[key], 1.0)
        top = _optimum(solver, highspy.ObjSense.kMaximize)
        bottom = _optimum(solver, highspy.ObjSense.kMinimize)
        solver.changeColCost(index[key], 0.0)
        ranges[key] = (bottom, top)
    return ranges


def _optimum(solver: highspy.Highs, sense: highspy.ObjSense) -> float:
    """The optimum in the given sense; infinite when unbounded (the region is never empty,
    since the true counts lie in it)."""
    solver.changeObjectiveSense(sense)
    solver.run()
    status = solver.getModelStatus()
    if status in (
        highspy.HighsModelStatus.kUnbounded,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return math.inf if sense == highspy.ObjSense.kMaximize else -math.inf
    if status != highspy.HighsModelStatus.kOptimal:  # pragma: no cover
        raise RuntimeError(f"the printed figures admit no counts at all ({status.name})")
    return float(solver.getInfo().objective_function_value)
