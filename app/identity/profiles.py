"""The built-in platform identity profiles, as data.

A profile says how one platform names its accounts: the handle syntax (and whether case
matters), the stable-id syntax, the hosts of its web addresses, and the URL paths that
name an account by handle or by id. `app/identity/canonical.py` applies a profile; nothing
here runs. Pure Python with no imports from other domains, so migrations can import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

KeyKind = Literal["handle", "id", "name"]


@dataclass(frozen=True, slots=True)
class Route:
    """A URL path (and optionally a query parameter) that names an account.

    `path` is matched against the URL's path without its trailing slash; its group `v`
    (or, when `query` is set, that query parameter) is the identifier of kind `kind`.
    """

    path: re.Pattern[str]
    kind: KeyKind
    query: str | None = None


def _route(path: str, kind: KeyKind, query: str | None = None) -> Route:
    return Route(re.compile(path, re.IGNORECASE), kind, query)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one platform identifies its accounts."""

    name: str
    label: str
    handle: re.Pattern[str]
    handle_rule: str
    id: re.Pattern[str]
    id_rule: str
    handle_case_sensitive: bool = False
    # Facebook ignores the dots in a username (john.smith is johnsmith).
    handle_ignores_dots: bool = False
    # Registrable hosts; empty means any host, and URLs are kept whole as `url:` keys.
    hosts: frozenset[str] = frozenset()
    host_prefixes: tuple[str, ...] = ("www.", "m.", "mobile.")
    routes: tuple[Route, ...] = ()
    # First path segments that are the platform's own pages, never an account.
    reserved: frozenset[str] = field(default_factory=frozenset)


_DIGITS = re.compile(r"^[0-9]{1,20}$")
_DIGITS_RULE = "1 to 20 digits"

TWITTER = Profile(
    name="twitter",
    label="Twitter / X",
    handle=re.compile(r"^[A-Za-z0-9_]{1,15}$"),
    handle_rule="1 to 15 letters, digits or '_'",
    id=_DIGITS,
    id_rule=_DIGITS_RULE,
    hosts=frozenset({"twitter.com", "x.com"}),
    routes=(
        _route(r"^/i/user/(?P<v>[^/]+)$", "id"),
        _route(r"^/intent/(?:user|follow)$", "id", query="user_id"),
        _route(r"^/intent/(?:user|follow)$", "handle", query="screen_name"),
        _route(r"^/(?P<v>[^/]+)(?:/.*)?$", "handle"),
    ),
    reserved=frozenset(
        {
            "i",
            "home",
            "search",
            "explore",
            "settings",
            "intent",
            "hashtag",
            "messages",
            "notifications",
            "compose",
            "login",
            "signup",
            "tos",
            "privacy",
            "share",
        }
    ),
)

FACEBOOK = Profile(
    name="facebook",
    label="Facebook",
    handle=re.compile(r"^[A-Za-z0-9.]{5,50}$"),
    handle_rule="5 to 50 letters, digits or '.'",
    handle_ignores_dots=True,
    id=_DIGITS,
    id_rule=_DIGITS_RULE,
    hosts=frozenset({"facebook.com", "fb.com"}),
    host_prefixes=("www.", "m.", "mbasic.", "web."),
    routes=(
        _route(r"^/profile\.php$", "id", query="id"),
        _route(r"^/people/[^/]+/(?P<v>[^/]+)$", "id"),
        _route(r"^/(?P<v>[^/]+)(?:/.*)?$", "handle"),
    ),
    reserved=frozenset(
        {
            "profile.php",
            "people",
            "groups",
            "pages",
            "watch",
            "events",
            "share",
            "login",
            "home.php",
            "photo.php",
            "story.php",
            "permalink.php",
            "hashtag",
            "marketplace",
        }
    ),
)

INSTAGRAM = Profile(
    name="instagram",
    label="Instagram",
    handle=re.compile(r"^[A-Za-z0-9._]{1,30}$"),
    handle_rule="1 to 30 letters, digits, '_' or '.'",
    id=_DIGITS,
    id_rule=_DIGITS_RULE,
    hosts=frozenset({"instagram.com", "instagr.am"}),
    routes=(
        _route(r"^/stories/(?P<v>[^/]+)(?:/.*)?$", "handle"),
        _route(r"^/(?P<v>[^/]+)(?:/.*)?$", "handle"),
    ),
    reserved=frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct"}),
)

YOUTUBE = Profile(
    name="youtube",
    label="YouTube",
    handle=re.compile(r"^[A-Za-z0-9._\-]{3,30}$"),
    handle_rule="3 to 30 letters, digits, '_', '.' or '-'",
    id=re.compile(r"^UC[A-Za-z0-9_\-]{22}$"),
    id_rule="'UC' and 22 letters, digits, '_' or '-'",
    hosts=frozenset({"youtube.com"}),
    routes=(
        _route(r"^/channel/(?P<v>[^/]+)(?:/.*)?$", "id"),
        _route(r"^/@(?P<v>[^/]+)(?:/.*)?$", "handle"),
        # Legacy custom and user names are another namespace than @handles.
        _route(r"^/(?:user|c)/(?P<v>[^/]+)(?:/.*)?$", "name"),
    ),
)

TIKTOK = Profile(
    name="tiktok",
    label="TikTok",
    handle=re.compile(r"^[A-Za-z0-9_.]{2,24}$"),
    handle_rule="2 to 24 letters, digits, '_' or '.'",
    id=_DIGITS,
    id_rule=_DIGITS_RULE,
    hosts=frozenset({"tiktok.com"}),
    routes=(_route(r"^/@(?P<v>[^/]+)(?:/video/[0-9]+)?(?:/.*)?$", "handle"),),
)

TELEGRAM = Profile(
    name="telegram",
    label="Telegram",
    handle=re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$"),
    handle_rule="4 to 32 letters, digits or '_', starting with a letter",
    id=re.compile(r"^-?[0-9]{1,20}$"),
    id_rule="1 to 20 digits, optionally negative",
    hosts=frozenset({"t.me", "telegram.me", "telegram.dog"}),
    host_prefixes=("www.",),
    routes=(
        _route(r"^/s/(?P<v>[^/]+)(?:/.*)?$", "handle"),
        _route(r"^/(?P<v>[^/]+)(?:/[0-9]+)?$", "handle"),
    ),
    reserved=frozenset({"s", "joinchat", "addstickers", "share", "proxy", "c"}),
)

GENERIC = Profile(
    name="generic",
    label="any other platform",
    handle=re.compile(r"^[\w.\-]{1,100}$"),
    handle_rule="1 to 100 letters, digits, '_', '.' or '-'",
    id=re.compile(r"^\S{1,128}$"),
    id_rule="1 to 128 characters without spaces",
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (TWITTER, FACEBOOK, INSTAGRAM, YOUTUBE, TIKTOK, TELEGRAM, GENERIC)
}


def default_profile_name(platform_slug: str) -> str:
    """The profile a new platform gets: the built-in one named like it, else generic."""
    return platform_slug if platform_slug in PROFILES else GENERIC.name
