"""Which scopes exist and which an organisation of each kind may hold."""

from __future__ import annotations

ALL_SCOPES = (
    "flags:submit",
    "flags:read",
    "feed:read",
    "flags:respond",
    "stats:read",
    "audit:read",
    "audit:checkpoints",
    "admin",
)

SCOPES_BY_KIND: dict[str, tuple[str, ...]] = {
    # Every member may keep and co-sign checkpoints (a witness); the operator, whose log it
    # is, cannot usefully witness itself.
    "agency": ("flags:submit", "flags:read", "feed:read", "audit:checkpoints"),
    "platform": ("feed:read", "flags:respond", "audit:checkpoints"),
    "observer": ("stats:read", "audit:read", "audit:checkpoints"),
    "operator": ("admin",),
}


def allowed_scopes(kind: str) -> tuple[str, ...]:
    """The scopes an organisation of this kind may be granted."""
    return SCOPES_BY_KIND.get(kind, ())


def parse_scope_string(raw: str | None) -> list[str]:
    """Split an OAuth scope string ("a b c") into a de-duplicated, ordered list."""
    seen: list[str] = []
    for item in (raw or "").split():
        if item not in seen:
            seen.append(item)
    return seen
