"""Whether a correction of a published report may be published: its change must be safe too.

Revision 2 of a period beside revision 1 lets anyone subtract: "Indonesia, November: 2
more suspensions" is a count under five, recovered from two public numbers. So a revision
is published only when the change it makes is itself safe to disclose.

The rule works on the finest cells a report is built from: every published number is a
sum of them (`exact_cells` lists them; suppression.py protects sums of the same cells
inside one document). A revision is allowed when every cell's change is 0 or at least
`THRESHOLD` in size and every non-zero change has the same sign. Then the change of any
sum of cells (every published number, and whatever a reader works out by adding and
subtracting published numbers of both revisions that pins down a cell or a sum of cells)
is a sum of same-signed terms each 0 or at least five: 0, or at least five. Mixed signs
would let +7 and -5 show as a change of 2.

The rule is public, and that is knowledge too: a figure shown as "<5" (1 to 4) that a
correction prints as 6 can only have grown by five, so it was 1. So a figure may change
from hidden to printed (or back) only when it is "<5" and the printed value is at least
`2 * THRESHOLD - 1` (the bounds then say nothing new), and a "withheld" figure keeps its
form: printed beside its unchanged self in the other revision it would complete the
equations that hid a small count there.

The old revision's exact cells cannot be read back from its document (small counts are
hidden there), so they are stored privately beside it (`transparency_report.exact_cells`,
never served). They are counts only, which the flags in the same database give anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.errors import Conflict
from app.stats.suppression import PRIMARY, THRESHOLD, Published, is_suppressed

SUSPENDED = "account_suspended"


class UnsafeRevision(Conflict):
    """A correction that would reveal a small change; nothing was stored."""


def exact_cells(
    *,
    outcomes: Iterable[Mapping[str, Any]],
    self_reported: Iterable[Mapping[str, Any]],
    response_times: Iterable[Mapping[str, Any]],
    months: Iterable[str],
) -> dict[str, int]:
    """The exact finest counts of a report, keyed by cell (zeros left out).

    The cells are the coarsest ones every published number is a sum of, read the way
    `assembly._tally` reads the figures: suspensions by country, platform and month; the
    other outcome actions, contests and overturned outcomes only in total; self-reports by
    platform and source; response time counts by platform. Coarser cells allow more
    corrections and prove the same."""
    month_set = set(months)
    cells: dict[str, int] = defaultdict(int)
    for row in outcomes:
        count, month, action = int(row["count"]), str(row["month"])[:7], str(row["action"])
        if month not in month_set or count <= 0:
            continue
        if action == SUSPENDED:
            cells[f"suspended/{row['country']}/{row['platform']}/{month}"] += count
        else:
            cells[f"action/{action}"] += count
        cells["contested"] += int(row.get("contested", 0))
        cells["overturned"] += int(row.get("overturned", 0))
    for row in self_reported:
        if row.get("action", SUSPENDED) != SUSPENDED:
            continue
        source = "own_detection" if row.get("source") == "own_detection" else "other"
        cells[f"self/{row['platform']}/{source}"] += int(row["count"])
    for row in response_times:
        platform = row.get("key", row.get("platform"))
        cells[f"acknowledged/{platform}"] += int(row["acknowledge"]["count"])
        cells[f"answered/{platform}"] += int(row["outcome"]["count"])
    return {k: v for k, v in sorted(cells.items()) if v}


def changes(old: Mapping[str, int], new: Mapping[str, int]) -> dict[str, int]:
    """Every cell's change from old to new (non-zero ones only)."""
    out = {k: new.get(k, 0) - old.get(k, 0) for k in set(old) | set(new)}
    return {k: d for k, d in sorted(out.items()) if d}


def printed(report: Mapping[str, Any]) -> dict[tuple[str, ...], Published]:
    """Every count a report prints, keyed by what it counts (rows sort by value, so a
    position in a list names nothing)."""
    out: dict[tuple[str, ...], Published] = {("totals", k): v for k, v in report["totals"].items()}
    for r in report["suspensions_by_country"]:
        out[("country", r["country"])] = r["count"]
    for r in report["suspensions_by_platform"]:
        out[("platform", r["platform"])] = r["count"]
    for m in report["suspensions_by_month"]["months"]:
        for p, v in m["counts"].items():
            out[("month", m["month"], p)] = v
    for r in report["outcomes_by_action"]:
        out[("action", r["action"])] = r["count"]
    for r in report["platform_reports"]:
        for k, v in r.items():
            if k not in ("platform", "name"):
                out[("self", r["platform"], k)] = v
    for r in report["response_times"]:
        for step in ("acknowledge", "outcome"):
            out[(step, r["platform"])] = r[step]["flags"]
    return out


def _narrows(old: Published, new: Published) -> bool:
    """Whether the two printed forms of one figure, under the rule, say more than either."""
    if is_suppressed(old) == is_suppressed(new):
        return False
    hidden, shown = (old, new) if is_suppressed(old) else (new, old)
    assert isinstance(shown, int)
    return hidden != PRIMARY or shown < 2 * THRESHOLD - 1


def refusal(
    old: Mapping[str, int],
    new: Mapping[str, int],
    *,
    old_report: Mapping[str, Any],
    new_report: Mapping[str, Any],
) -> str | None:
    """Why publishing new beside old would reveal a small count or change (None when it is
    safe). The message names how many figures, never which or by how much: it goes to
    logs."""
    delta = changes(old, new)
    small = sum(1 for d in delta.values() if abs(d) < THRESHOLD)
    if small:
        figures = "figure" if small == 1 else "figures"
        return (
            f"this correction changes {small} {figures} by fewer than {THRESHOLD}; publishing "
            "it would reveal those changes; it will be possible once the changes reach "
            f"{THRESHOLD} or more"
        )
    if len({d > 0 for d in delta.values()}) > 1:
        return (
            "this correction raises some figures and lowers others, so a total could change "
            f"by fewer than {THRESHOLD}; publishing it would reveal that change; it will be "
            "possible once every change goes the same way"
        )
    before, after = printed(old_report), printed(new_report)
    narrowed = sum(1 for k in before.keys() & after.keys() if _narrows(before[k], after[k]))
    if narrowed:
        return (
            f"this correction would print {narrowed} figure(s) that the published revision "
            "hides, or hide ones it prints, in a way that narrows them down; publishing it "
            "would reveal them; it will be possible when the figures have grown further"
        )
    return None
