"""Canonical JSON: one byte string per value, for hashing requests (and, later, audit entries)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(value: Any) -> str:
    """SHA-256 of the canonical JSON of value, hex."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
