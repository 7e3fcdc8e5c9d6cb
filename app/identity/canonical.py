"""Canonical keys of an account: however an agency writes it, one spelling per identifier.

`canonicalise(profile, id=, handle=, url=)` turns what an agency or platform sent into
canonical keys (`handle:cell_x`, `id:98765432101`, `name:…`, `url:https://example.org/x`)
and the canonical form of what was sent (shown back to that sender only). Two spellings of
one account always give the same key, and canonicalising a canonical form changes nothing
(tests/identity/test_canonical_properties.py checks both with hypothesis).

Pure Python with no imports from other domains: the identity migration imports it, so it
must stay importable by that old revision.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from app.identity.profiles import GENERIC, PROFILES, KeyKind, Profile


class IdentityError(ValueError):
    """An identifier that does not fit the platform's profile; names the field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Identity:
    """The canonical keys of what was sent (with the field each came from) and its form."""

    keys: tuple[tuple[str, str], ...]
    ref: dict[str, str | None]

    def key_list(self) -> list[str]:
        """The keys alone."""
        return [k for k, _ in self.keys]

    def as_json(self) -> dict[str, Any]:
        """The form the SQL functions take: keys with their fields, and the ref."""
        return {"keys": [{"key": k, "field": f} for k, f in self.keys], "ref": self.ref}


def profile_named(name: str | None) -> Profile:
    """The built-in profile of that name (generic for an unknown or missing name)."""
    return PROFILES.get(name or "", GENERIC)


def clean(value: str) -> str:
    """NFKC first (fullwidth letters, compatibility forms), then surrounding whitespace."""
    return unicodedata.normalize("NFKC", value).strip()


def normalise_url(value: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments and a trailing slash."""
    parts = urlsplit(clean(value))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets, or the URL is not one
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def _fold_handle(profile: Profile, value: str) -> str:
    if not profile.handle_case_sensitive:
        value = value.casefold()
    if profile.handle_ignores_dots:
        value = value.replace(".", "")
    return value


def _handle(profile: Profile, raw: str, field: str, what: str = "") -> str:
    value = clean(raw)
    value = value.removeprefix("@").strip()
    folded = _fold_handle(profile, value)
    if not profile.handle.match(folded):
        raise IdentityError(
            field, f"{what}must be {profile.handle_rule} on {profile.label} (an optional @ first)"
        )
    return folded


def _id(profile: Profile, raw: str, field: str, what: str = "") -> str:
    value = clean(raw)
    if not profile.id.match(value):
        raise IdentityError(field, f"{what}must be {profile.id_rule} on {profile.label}")
    return value


def _host(profile: Profile, host: str) -> str | None:
    for prefix in profile.host_prefixes:
        if host.startswith(prefix) and host[len(prefix) :] in profile.hosts:
            return host[len(prefix) :]
    return host if host in profile.hosts else None


def _from_url(profile: Profile, url: str) -> tuple[KeyKind, str]:
    """The (kind, canonical value) a profile's URL names."""
    parts = urlsplit(url)
    if _host(profile, parts.netloc) is None:
        hosts = ", ".join(sorted(profile.hosts))
        raise IdentityError("account.url", f"is not a {profile.label} address ({hosts})")
    path = unquote(parts.path).rstrip("/")
    query = parse_qs(parts.query)
    for route in profile.routes:
        match = route.path.match(path)
        if match is None:
            continue
        if route.query is not None:
            values = query.get(route.query)
            if not values:
                continue
            value = values[0]
        else:
            value = match.group("v")
        if route.kind != "id" and value.casefold() in profile.reserved:
            break
        what = f"names {value!r}, which "
        if route.kind == "id":
            return "id", _id(profile, value, "account.url", what)
        return route.kind, _handle(profile, value, "account.url", what)
    raise IdentityError("account.url", f"does not name an account on {profile.label}")


def canonicalise(
    profile: Profile, *, id: str | None = None, handle: str | None = None, url: str | None = None
) -> Identity:
    """The canonical keys of one account as sent, and the canonical form of what was sent.

    Raises IdentityError naming `account.id`, `account.handle` or `account.url`. One request
    names one account, so a URL naming another handle (or id) than the one given is refused.
    """
    found: dict[str, tuple[str, str]] = {}

    def add(kind: str, value: str, field: str) -> None:
        seen = found.get(kind)
        if seen is not None and seen[0] != value:
            raise IdentityError(field, f"names another {kind} than {seen[1]} ({seen[0]!r})")
        found.setdefault(kind, (value, field))

    ref: dict[str, str | None] = {"id": None, "handle": None, "url": None}
    if id is not None:
        ref["id"] = value = _id(profile, id, "account.id")
        add("id", value, "account.id")
    if handle is not None:
        ref["handle"] = value = _handle(profile, handle, "account.handle")
        add("handle", value, "account.handle")
    if url is not None:
        try:
            ref["url"] = value = normalise_url(url)
        except ValueError as exc:
            raise IdentityError("account.url", str(exc)) from None
        if profile.hosts:
            add(*_from_url(profile, value), "account.url")
        else:
            add("url", value, "account.url")
    if not found:
        raise IdentityError("account", "give at least one of id, handle or url")
    keys = tuple((f"{kind}:{value}", field) for kind, (value, field) in found.items())
    return Identity(keys=keys, ref=ref)


def canonicalise_account(profile_name: str | None, account: dict[str, Any]) -> Identity:
    """canonicalise() for an account object ({"id", "handle", "url"}) and a profile name."""
    return canonicalise(
        profile_named(profile_name),
        id=account.get("id"),
        handle=account.get("handle"),
        url=account.get("url"),
    )
