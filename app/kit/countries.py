"""ISO 3166-1 alpha-2 country codes and their English names, from pycountry.

pycountry ships Debian's iso-codes (iso_3166-1.json). A page people read shows the common
name where iso-codes has one ("Bolivia", "South Korea", "Vietnam", "Türkiye"), else the ISO
short name: exactly the names the page showed when they were a table copied into this
repository, so no override is needed.
"""

from __future__ import annotations

import pycountry

COUNTRY_NAMES: dict[str, str] = {
    c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries
}
"""English short name by officially assigned alpha-2 code."""

ISO_3166_ALPHA2: frozenset[str] = frozenset(COUNTRY_NAMES)
"""Every officially assigned alpha-2 code."""


def country_name(code: str) -> str:
    """The country's English short name, or the code itself when it is not assigned."""
    return COUNTRY_NAMES.get(code, code)
