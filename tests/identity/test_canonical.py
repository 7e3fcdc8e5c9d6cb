"""Canonical keys: every spelling of an account gives the same key; misfits name the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.identity.canonical import IdentityError, canonicalise
from app.identity.profiles import PROFILES


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# (profile, the key every spelling must give, spellings as (field, value))
SPELLINGS = [
    (
        "twitter",
        "handle:cell_x",
        [
            ("handle", "cell_x"),
            ("handle", "@CELL_X"),
            ("handle", " " + _fullwidth("@cell_x") + " "),
            ("url", "https://twitter.com/cell_x"),
            ("url", "https://x.com/cell_x"),
            ("url", "https://mobile.twitter.com/CELL_X?lang=en"),
            ("url", "https://x.com/cell_x/status/123"),
            ("url", "https://www.twitter.com/cell_x/"),
            ("url", "http://m.x.com/cell_x/with_replies#top"),
            ("url", "https://twitter.com/intent/user?screen_name=Cell_X"),
        ],
    ),
    (
        "twitter",
        "id:98765432101",
        [
            ("id", "98765432101"),
            ("id", _fullwidth("98765432101")),
            ("url", "https://twitter.com/i/user/98765432101"),
            ("url", "https://x.com/intent/user?user_id=98765432101"),
        ],
    ),
    (
        "facebook",
        "handle:johnsmith",
        [
            ("handle", "john.smith"),
            ("handle", "JohnSmith"),
            ("url", "https://www.facebook.com/john.smith/"),
            ("url", "https://m.facebook.com/JohnSmith?ref=bookmarks"),
            ("url", "https://mbasic.facebook.com/john.smith/posts/1"),
            ("url", "https://fb.com/johnsmith"),
        ],
    ),
    (
        "facebook",
        "id:100004",
        [
            ("id", "100004"),
            ("url", "https://www.facebook.com/profile.php?id=100004"),
            ("url", "https://facebook.com/people/John-Smith/100004/"),
        ],
    ),
    (
        "instagram",
        "handle:cell.x_",
        [
            ("handle", "@Cell.X_"),
            ("url", "https://www.instagram.com/cell.x_/"),
            ("url", "https://instagram.com/stories/cell.x_/123"),
        ],
    ),
    (
        "youtube",
        "id:UCabcdefghijklmnopqrstuv",
        [
            ("id", "UCabcdefghijklmnopqrstuv"),
            ("url", "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv/videos"),
            ("url", "https://m.youtube.com/channel/UCabcdefghijklmnopqrstuv"),
        ],
    ),
    (
        "youtube",
        "handle:cellx",
        [
            ("handle", "@CellX"),
            ("url", "https://www.youtube.com/@cellx"),
            ("url", "https://youtube.com/@CellX/videos?view=0"),
        ],
    ),
    (
        "tiktok",
        "handle:cell.x",
        [
            ("handle", "@Cell.X"),
            ("url", "https://www.tiktok.com/@cell.x"),
            ("url", "https://www.tiktok.com/@cell.x/video/7234567890123"),
            ("url", "https://m.tiktok.com/@CELL.X?lang=en"),
        ],
    ),
    (
        "telegram",
        "handle:cellchannel",
        [
            ("handle", "@CellChannel"),
            ("url", "https://t.me/cellchannel"),
            ("url", "https://t.me/s/CellChannel"),
            ("url", "https://telegram.me/cellchannel/42"),
        ],
    ),
    (
        "generic",
        "url:https://example.org/u/cell",
        [
            ("url", "https://example.org/u/cell"),
            ("url", "HTTPS://EXAMPLE.ORG:443/u/cell/"),
            ("url", "https://example.org/u/cell#about"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("profile", "key", "field", "value"),
    [(p, k, f, v) for p, k, spellings in SPELLINGS for f, v in spellings],
)
def test_every_spelling_gives_the_canonical_key(profile, key, field, value):
    identity = canonicalise(PROFILES[profile], **{field: value})
    assert identity.key_list() == [key]


@pytest.mark.parametrize(
    ("profile", "sent", "field", "why"),
    [
        ("twitter", {"handle": "a" * 40}, "account.handle", "1 to 15"),
        ("twitter", {"handle": "has space"}, "account.handle", "1 to 15"),
        ("twitter", {"url": "https://evil.example/ab"}, "account.url", "not a Twitter"),
        ("twitter", {"url": "https://twitter.com/home"}, "account.url", "does not name"),
        ("twitter", {"url": "ftp://twitter.com/a"}, "account.url", "http(s)"),
        ("twitter", {"id": "12ab"}, "account.id", "digits"),
        ("twitter", {"handle": "alice", "url": "https://x.com/bob"}, "account.url", "another"),
        ("facebook", {"handle": "abc"}, "account.handle", "5 to 50"),
        ("youtube", {"id": "UCshort"}, "account.id", "UC"),
        ("youtube", {"url": "https://youtu.be/dQw4w9WgXcQ"}, "account.url", "not a YouTube"),
        ("instagram", {"url": "https://instagram.com/p/Cxyz/"}, "account.url", "does not name"),
        ("telegram", {"handle": "abc"}, "account.handle", "4 to 32"),
        ("generic", {"handle": "a/b"}, "account.handle", "1 to 100"),
    ],
)
def test_misfits_name_the_field_and_say_why(profile, sent, field, why):
    with pytest.raises(IdentityError) as err:
        canonicalise(PROFILES[profile], **sent)
    assert err.value.field == field and why in err.value.message


HANDLE_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@given(
    handle=st.text(HANDLE_CHARS, min_size=1, max_size=15),
    profile=st.sampled_from(["twitter", "generic"]),
)
def test_canonical_form_is_a_fixed_point(handle, profile):
    first = canonicalise(PROFILES[profile], handle=handle)
    again = canonicalise(PROFILES[profile], **{k: v for k, v in first.ref.items() if v})
    assert again == first


@given(
    handle=st.text(HANDLE_CHARS, min_size=1, max_size=15),
    host=st.sampled_from(
        ["twitter.com", "x.com", "www.twitter.com", "mobile.twitter.com", "m.x.com"]
    ),
    suffix=st.sampled_from(["", "/", "/status/123", "/media", "?lang=en", "#x"]),
    at=st.booleans(),
    fullwidth=st.booleans(),
    upper=st.booleans(),
)
def test_two_spellings_of_one_twitter_account_always_meet(
    handle, host, suffix, at, fullwidth, upper
):
    twitter = PROFILES["twitter"]
    spelled = handle.upper() if upper else handle
    spelled = ("@" if at else "") + spelled
    spelled = _fullwidth(spelled) if fullwidth else spelled
    by_handle = canonicalise(twitter, handle=spelled).key_list()
    if handle.casefold() in twitter.reserved:
        return
    by_url = canonicalise(twitter, url=f"https://{host}/{handle}{suffix}").key_list()
    assert by_handle == by_url == [f"handle:{handle.casefold()}"]
