"""The flag state machine as one explicit table.

    held -> open -> acknowledged <-> info_requested -> closed
    withdrawn from any status before closed
    closed -> reconsideration -> closed, once, when the agency contests the outcome

A platform may report an outcome or ask a question without acknowledging first (it then
counts as acknowledged). Acknowledging again is a no-op, as the contract makes ack
idempotent. Every pair not in the table is a 409 that names the current status.
"""

from __future__ import annotations

from enum import StrEnum

from app.errors import Conflict


class Status(StrEnum):
    """Where a flag is in its life."""

    HELD = "held"
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    INFO_REQUESTED = "info_requested"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    RECONSIDERATION = "reconsideration"


class Action(StrEnum):
    """Everything that can happen to a flag after submission."""

    RELEASE = "release"
    ACKNOWLEDGE = "acknowledge"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    RECORD_OUTCOME = "record_outcome"
    WITHDRAW = "withdraw"
    CONTEST = "contest"


S, A = Status, Action

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.HELD, A.RELEASE): S.OPEN,
    (S.HELD, A.WITHDRAW): S.WITHDRAWN,
    (S.OPEN, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.OPEN, A.REQUEST_INFO): S.INFO_REQUESTED,
    (S.OPEN, A.RECORD_OUTCOME): S.CLOSED,
    (S.OPEN, A.WITHDRAW): S.WITHDRAWN,
    (S.ACKNOWLEDGED, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, A.REQUEST_INFO): S.INFO_REQUESTED,
    (S.ACKNOWLEDGED, A.RECORD_OUTCOME): S.CLOSED,
    (S.ACKNOWLEDGED, A.WITHDRAW): S.WITHDRAWN,
    (S.INFO_REQUESTED, A.ACKNOWLEDGE): S.INFO_REQUESTED,
    (S.INFO_REQUESTED, A.PROVIDE_INFO): S.ACKNOWLEDGED,
    (S.INFO_REQUESTED, A.RECORD_OUTCOME): S.CLOSED,
    (S.INFO_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.CLOSED, A.ACKNOWLEDGE): S.CLOSED,
    (S.CLOSED, A.CONTEST): S.RECONSIDERATION,
    (S.RECONSIDERATION, A.ACKNOWLEDGE): S.RECONSIDERATION,
    (S.RECONSIDERATION, A.RECORD_OUTCOME): S.CLOSED,
}

# A flag in reconsideration is live: the platform owes the agency a final answer.
LIVE = frozenset({S.HELD, S.OPEN, S.ACKNOWLEDGED, S.INFO_REQUESTED, S.RECONSIDERATION})


def next_status(current: str, action: Action) -> Status:
    """The status after action, or a 409 naming the current status."""
    try:
        return TRANSITIONS[(Status(current), action)]
    except KeyError:
        raise Conflict(
            f"Cannot {action.value.replace('_', ' ')} a flag that is {current}",
            current_status=current,
        ) from None


def is_noop(current: str, action: Action) -> bool:
    """True when the action leaves the flag as it is (repeated acknowledgements)."""
    return action is Action.ACKNOWLEDGE and Status(current) in (
        S.ACKNOWLEDGED,
        S.INFO_REQUESTED,
        S.CLOSED,
        S.RECONSIDERATION,
    )


def transition_table() -> str:
    """The allowed transitions as a Markdown table (docs/lifecycle.md carries it verbatim)."""
    actions = list(Action)
    lines = [
        "| status | " + " | ".join(f"`{a.value}`" for a in actions) + " |",
        "|---|" + "---|" * len(actions),
    ]
    for status in Status:
        cells = [
            f"`{TRANSITIONS[(status, a)].value}`" if (status, a) in TRANSITIONS else "409"
            for a in actions
        ]
        lines.append(f"| `{status.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
