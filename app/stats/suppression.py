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
from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Final, Literal

THRESHOLD: Final = 5
PRIMARY: Final[Literal["<5"]] = "<5"
SECONDARY: Final[Literal["withheld"]] = "withheld"

Marker = Literal["<5", "withheld"]
Published = int | Marker
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
_EPS = 1e-7
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
        for key in sensitive:
            if len(group) == 1:
                low, high = _one_equation_range(key, group[0], bounds)
            else:
                low, high = _lp_range(key, unknowns, group, bounds)
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


def _lp_range(
    key: Hashable,
    unknowns: list[Hashable],
    equations: list[Equation],
    bounds: Mapping[Hashable, tuple[float, float]],
) -> tuple[float, float]:
    """The smallest and largest value of one unknown over the whole feasible region."""
    index = {k: i for i, k in enumerate(unknowns)}
    rows = [[0.0] * len(unknowns) for _ in equations]
    rhs = []
    for r, (coeffs, constant) in enumerate(equations):
        for k, sign in coeffs.items():
            rows[r][index[k]] = float(sign)
        rhs.append(float(constant))
    low = [bounds[k][0] for k in unknowns]
    high = [bounds[k][1] for k in unknowns]
    objective = [0.0] * len(unknowns)
    objective[index[key]] = 1.0
    top = _lp_max(objective, rows, rhs, low, high)
    objective[index[key]] = -1.0
    bottom = -_lp_max(objective, rows, rhs, low, high)
    return bottom, top


def _lp_max(
    cost: list[float],
    rows: list[list[float]],
    rhs: list[float],
    low: list[float],
    high: list[float],
) -> float:
    """max cost.x subject to rows.x = rhs and low <= x <= high (two-phase simplex, Bland).

    Small dense problems only (one component of one page). Returns inf when unbounded;
    the region is never empty, since the true counts lie in it.
    """
    n = len(cost)
    capped = [j for j in range(n) if high[j] < math.inf]
    width = n + len(capped)
    table: list[list[float]] = []
    # Shift x = low + y (y >= 0); a cap y_j <= high_j - low_j gets a slack column.
    for row, b in zip(rows, rhs, strict=True):
        shifted = b - sum(a * lo for a, lo in zip(row, low, strict=True))
        line = [*row, *([0.0] * len(capped)), shifted]
        table.append(line if shifted >= 0 else [-v for v in line])
    for t, j in enumerate(capped):
        line = [0.0] * (width + 1)
        line[j] = 1.0
        line[n + t] = 1.0
        line[-1] = high[j] - low[j]
        table.append(line)
    m = len(table)
    # One artificial per row: the start basis.
    for r, line in enumerate(table):
        line[width:width] = [1.0 if a == r else 0.0 for a in range(m)]
    basis = [width + r for r in range(m)]
    allowed = [True] * (width + m)
    phase_one = [0.0] * width + [-1.0] * m
    if _simplex(table, basis, phase_one, allowed) < -_EPS:  # pragma: no cover
        raise RuntimeError("the printed figures admit no counts at all")
    for a in range(width, width + m):
        allowed[a] = False
    for r in range(m):
        if basis[r] >= width:
            pivot = next((j for j in range(width) if abs(table[r][j]) > _EPS), None)
            if pivot is not None:
                _pivot(table, basis, r, pivot)
    value = _simplex(table, basis, [*cost, *([0.0] * (width - n + m))], allowed)
    return value + sum(c * lo for c, lo in zip(cost, low, strict=True))


def _simplex(
    table: list[list[float]], basis: list[int], cost: list[float], allowed: list[bool]
) -> float:
    """Maximise cost over a tableau in canonical form, in place; inf when unbounded."""
    while True:
        entering = None
        for j, ok in enumerate(allowed):
            if ok and j not in basis:
                reduced = cost[j] - sum(cost[b] * table[r][j] for r, b in enumerate(basis))
                if reduced > _EPS:
                    entering = j
                    break
        if entering is None:
            return sum(cost[b] * table[r][-1] for r, b in enumerate(basis))
        leaving = None
        best = math.inf
        for r, line in enumerate(table):
            if line[entering] > _EPS:
                ratio = line[-1] / line[entering]
                if ratio < best - _EPS or (
                    abs(ratio - best) <= _EPS and leaving is not None and basis[r] < basis[leaving]
                ):
                    best, leaving = ratio, r
        if leaving is None:
            return math.inf
        _pivot(table, basis, leaving, entering)


def _pivot(table: list[list[float]], basis: list[int], row: int, col: int) -> None:
    lead = table[row][col]
    table[row] = [v / lead for v in table[row]]
    for r, line in enumerate(table):
        if r != row and abs(line[col]) > 0:
            factor = line[col]
            table[r] = [a - factor * b for a, b in zip(line, table[row], strict=True)]
    basis[row] = col
