"""A limiter's answer for one request, and how it is told to the client.

The headers follow draft-ietf-httpapi-ratelimit-headers (draft-09 and later: `RateLimit-Policy`
and `RateLimit` as structured-field lists of named policies, e.g.
`RateLimit-Policy: "writes";q=600;w=60` and `RateLimit: "writes";r=12;t=40`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead under one named budget, and what is left of it."""

    policy: str
    quota: int
    window_seconds: int
    allowed: bool
    remaining: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        """`RateLimit-Policy` and `RateLimit`, plus `Retry-After` when refused."""
        reset = max(1, math.ceil(self.reset_seconds))
        out = {
            "RateLimit-Policy": f'"{self.policy}";q={self.quota};w={self.window_seconds}',
            "RateLimit": f'"{self.policy}";r={max(0, self.remaining)};t={reset}',
        }
        if not self.allowed:
            out["Retry-After"] = str(reset)
        return out

    def refusal(self, detail: str) -> RateLimited:
        """The 429 that tells the client this budget is spent."""
        return RateLimited(detail, headers=self.headers())
