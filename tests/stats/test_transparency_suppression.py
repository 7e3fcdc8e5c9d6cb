"""Disclosure control: small counts hidden, and no total gives a hidden count back.

The property tests check the result against brute force: every assignment of the hidden
cells that agrees with what is printed (exact numbers, "<5" = 1..4, "withheld" = 5 or more)
is enumerated, and each "<5" cell must still have at least two possible values.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from app.stats.suppression import (
    PRIMARY,
    SECONDARY,
    DisclosureControl,
    Published,
    is_suppressed,
    primary,
)

ENUMERATION_CAP = 12  # above the generated values plus four: enough room for alternatives


def test_primary_suppression_hides_one_to_four_only():
    assert [primary(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]
    assert is_suppressed("<5") and is_suppressed("withheld") and not is_suppressed(0)


def one_way(values: Mapping[str, int]) -> dict[Hashable, Published]:
    control = DisclosureControl()
    for key, value in values.items():
        control.cell(key, value)
    control.cell("total", sum(values.values()))
    control.add_sum("total", list(values))
    return control.protect()


def test_a_lone_small_cell_gets_the_smallest_other_cell_as_complement():
    shown = one_way({"a": 3, "b": 20, "c": 17, "d": 40})
    assert shown == {"a": PRIMARY, "b": 20, "c": SECONDARY, "d": 40, "total": 80}


def test_two_small_cells_protect_each_other():
    shown = one_way({"a": 3, "b": 2, "c": 35})
    assert shown == {"a": PRIMARY, "b": PRIMARY, "c": 35, "total": 40}


def test_two_small_cells_whose_sum_pins_them_are_protected_further():
    # total - c = 2, and two cells of at least one each can only be 1 and 1.
    shown = one_way({"a": 1, "b": 1, "c": 35, "d": 9})
    assert shown["a"] == shown["b"] == PRIMARY
    assert shown["d"] == SECONDARY and shown["c"] == 35


def test_bounds_alone_can_expose_a_cell():
    # Withholding b would not do: 6 = "<5" + "withheld" only works as 1 + 5. Withholding
    # the total does: "withheld" = 5 + "<5" leaves a between 1 and 4.
    shown = one_way({"a": 1, "b": 5})
    assert shown == {"a": PRIMARY, "b": 5, "total": SECONDARY}


def test_zero_is_printed_and_needs_no_protection():
    assert one_way({"a": 0, "b": 12, "c": 7}) == {"a": 0, "b": 12, "c": 7, "total": 19}


def test_linked_tables_are_protected_through_each_other():
    # Total by country and by platform; each platform's total is the sum of its months.
    control = DisclosureControl()
    values = {
        "total": 28,
        ("country", "ID"): 15,
        ("country", "AU"): 9,
        ("country", "MY"): 3,
        ("country", "BN"): 1,
        ("platform", "chirp"): 19,
        ("platform", "face"): 7,
        ("platform", "vid"): 2,
        ("month", "chirp"): 19,
        ("month", "face"): 7,
        ("month", "vid"): 2,
    }
    for key, value in values.items():
        control.cell(key, value, headline=key == "total")
    control.add_sum("total", [k for k in values if k[0] == "country"])
    control.add_sum("total", [k for k in values if k[0] == "platform"])
    for p in ("chirp", "face", "vid"):
        control.add_sum(("platform", p), [("month", p)])
    shown = control.protect()
    # 28 - 19 - 7 would give VidTube's 2: FacePage is withheld, and with it FacePage's
    # only month, which would give the platform total straight back.
    assert shown[("platform", "vid")] == shown[("month", "vid")] == PRIMARY
    assert shown[("platform", "face")] == shown[("month", "face")] == SECONDARY
    assert shown[("country", "ID")] == 15 and shown[("country", "AU")] == 9
    assert shown["total"] == 28 and shown[("platform", "chirp")] == 19


def test_a_total_over_nothing_but_small_cells_is_itself_small():
    shown = one_way({"a": 1, "b": 2})
    assert shown == {"a": PRIMARY, "b": PRIMARY, "total": PRIMARY}


def test_four_ones_under_a_small_total_get_the_total_withheld():
    # "<5" over four "<5" cells could only be 1 + 1 + 1 + 1; nothing published is left
    # to hide, so the total itself is printed as "withheld" (no promise of five or more).
    shown = one_way({"a": 1, "b": 1, "c": 1, "d": 1})
    assert shown == {"a": PRIMARY, "b": PRIMARY, "c": PRIMARY, "d": PRIMARY, "total": SECONDARY}


def test_sums_over_unknown_cells_are_refused():
    control = DisclosureControl()
    control.cell("a", 1)
    try:
        control.add_sum("a", ["b"])
    except KeyError:
        pass
    else:  # pragma: no cover
        raise AssertionError("a sum over an unknown cell must be refused")


# -- brute force ----------------------------------------------------------------------


def feasible_values(
    leaves: list[Hashable],
    totals: dict[Hashable, list[Hashable]],
    shown: Mapping[Hashable, Published],
    true: Mapping[Hashable, int],
) -> dict[Hashable, set[int]]:
    """Every value each hidden cell can take, given what is printed.

    The reader is as strong as can be: a "withheld" cell is taken to be five or more
    whenever that is true (it nearly always is), and at least one otherwise.
    """

    def allowed(printed: Published) -> range:
        if printed == PRIMARY:
            return range(1, 5)
        if printed == SECONDARY:
            return range(5, ENUMERATION_CAP + 1)
        return range(int(printed), int(printed) + 1)

    def agrees(key: Hashable, value: int) -> bool:
        printed = shown[key]
        if printed == PRIMARY:
            return 1 <= value <= 4
        if printed == SECONDARY:
            return value >= (5 if true[key] >= 5 else 1)
        return value == printed

    hidden = [k for k in [*leaves, *totals] if is_suppressed(shown[k])]
    seen: dict[Hashable, set[int]] = {k: set() for k in hidden}
    # Only the detail cells are enumerated (withheld ones up to a cap above any generated
    # value); totals follow from them and may be as large as they come.
    for combo in itertools.product(*(allowed(shown[leaf]) for leaf in leaves)):
        value = dict(zip(leaves, combo, strict=True))
        for total, parts in totals.items():
            value[total] = sum(value[p] for p in parts)
        if all(agrees(k, value[k]) for k in totals):
            for k in hidden:
                seen[k].add(value[k])
    return seen


def assert_no_small_cell_is_exposed(
    leaves: list[Hashable], totals: dict[Hashable, list[Hashable]], values: Mapping
) -> None:
    control = DisclosureControl()
    for k in leaves:
        control.cell(k, values[k])
    for total, parts in totals.items():
        control.cell(total, sum(values[p] for p in parts))
        control.add_sum(total, parts)
    shown = control.protect()
    true = {k: values[k] if k in values else sum(values[p] for p in totals[k]) for k in shown}
    for k, v in shown.items():
        assert v == true[k] or (v == PRIMARY and 0 < true[k] < 5) or v == SECONDARY
        if v == SECONDARY and true[k] < 5:
            assert k in totals, "only a total is ever withheld below five"
    for k, possible in feasible_values(leaves, totals, shown, true).items():
        if shown[k] == PRIMARY:
            assert len(possible) >= 2, (k, possible, shown)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=4))
def test_one_way_tables_never_expose_a_small_cell(cells):
    leaves = [f"c{i}" for i in range(len(cells))]
    values = dict(zip(leaves, cells, strict=True))
    assert_no_small_cell_is_exposed(leaves, {"total": leaves}, values)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=8), min_size=4, max_size=4))
def test_two_way_tables_with_margins_never_expose_a_small_cell(cells):
    leaves = [(r, c) for r in range(2) for c in range(2)]
    values = dict(zip(leaves, cells, strict=True))
    totals: dict[Hashable, list[Hashable]] = {
        ("row", 0): [(0, 0), (0, 1)],
        ("row", 1): [(1, 0), (1, 1)],
        ("col", 0): [(0, 0), (1, 0)],
        ("col", 1): [(0, 1), (1, 1)],
    }
    # The grand total is printed twice over (rows and columns), as the page does.
    control_totals = dict(totals)
    control_totals["grand"] = leaves
    assert_no_small_cell_is_exposed(leaves, control_totals, values)
