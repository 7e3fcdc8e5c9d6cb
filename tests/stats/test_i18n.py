"""The transparency page's catalogues are complete, and the reader's language is chosen
and written as CLDR says: no English string may reach the page untranslated."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.errors import Unprocessable
from app.stats import assembly, i18n
from app.vocabulary import OUTCOME_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
POT = i18n.LOCALES_DIR / "messages.pot"
MEMBER_STATES = ("en", "id", "ms", "th", "my", "fil")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_TAG = re.compile(r"</?\w+")


def read(path: Path):
    with path.open("rb") as fp:
        return read_po(fp)


def catalogue_files() -> list[Path]:
    return sorted(i18n.LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))


def extracted() -> set[str]:
    """The messages the page's sources hold now, read as `make i18n-extract` reads them."""
    with (ROOT / "babel.cfg").open() as fp:
        method_map, options_map = parse_mapping_cfg(fp)
    return {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, strip_comment_tags=True
        )
        if isinstance(message, str)
    }


def test_every_member_state_language_has_a_catalogue():
    assert set(MEMBER_STATES) <= set(i18n.languages())
    assert i18n.languages()[0] == "en"


def test_the_template_holds_every_message_of_the_sources():
    """A string added to the page or its charts without `make i18n-update` fails here."""
    in_pot = {m.id for m in read(POT) if m.id}
    found = extracted()
    assert found - in_pot == set(), "run `make i18n-update` and translate the new messages"
    assert in_pot - found == set(), "messages no longer used: run `make i18n-update`"


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated_in_every_catalogue(path: Path):
    catalogue = read(path)
    code = path.parent.parent.name
    messages = {m.id: m for m in catalogue if m.id}
    template = {m.id for m in read(POT) if m.id}
    assert template - set(messages) == set(), f"{code}: run `make i18n-update`"
    for message in messages.values():
        assert "fuzzy" not in message.flags, f"{code}: fuzzy entries are ignored: {message.id!r}"
        if code == i18n.SOURCE and not message.string:
            continue  # the source language's msgid is its text
        assert message.string, f"{code}: untranslated: {message.id!r}"
        # Same placeholders and the same markup, so no value or link is lost.
        assert sorted(_PLACEHOLDER.findall(message.string)) == sorted(
            _PLACEHOLDER.findall(message.id)
        ), (code, message.id)
        assert sorted(_TAG.findall(message.string)) == sorted(_TAG.findall(message.id)), (
            code,
            message.id,
        )
        # Newstyle gettext formats every message with %: a stray % would break the page.
        assert "%" not in _PLACEHOLDER.sub("", message.string), (code, message.id)


def test_outcome_labels_cover_every_action_and_are_translated():
    assert list(assembly.ACTION_LABELS) == list(OUTCOME_ACTIONS)
    assert set(assembly.ACTION_LABELS.values()) <= {m.id for m in read(POT) if m.id}


@pytest.mark.parametrize(
    ("lang", "accept", "chosen"),
    [
        (None, None, "en"),
        (None, "th-TH,th;q=0.9,en;q=0.8", "th"),
        (None, "en;q=0.5, id-ID;q=0.9", "id"),
        (None, "ms-MY", "ms"),
        (None, "my-MM", "my"),
        (None, "fil-PH", "fil"),
        (None, "tl", "fil"),
        (None, "de-DE, fr;q=0.9", "en"),
        (None, "th;q=0, id", "id"),
        (None, "*, th;q=0.5", "th"),
        (None, "garbage;;;q=abc, ,", "en"),
        ("th", "id", "th"),
        ("ID", None, "id"),
        ("ms_MY", None, "ms"),
        ("tl", None, "fil"),
    ],
)
def test_the_query_wins_then_accept_language_then_english(lang, accept, chosen):
    assert i18n.choose(lang=lang, accept_language=accept) == chosen


def test_a_language_the_page_does_not_offer_is_refused_naming_lang():
    with pytest.raises(Unprocessable) as caught:
        i18n.choose(lang="de", accept_language="th")
    assert caught.value.extra["errors"][0]["field"] == "lang"


def test_numbers_dates_and_durations_follow_cldr():
    thai, indonesian, burmese = (i18n.page_locale(c) for c in ("th", "id", "my"))
    assert indonesian.count(12345) == "12.345"
    assert thai.count(12345) == "12,345"
    # CLDR's default numbering system for Burmese in Babel is Latin digits: what
    # format_decimal(locale="my") gives is what the page prints.
    assert burmese.count(12345) == "12,345"
    assert thai.month("2026-03") == "มีนาคม 2026"
    assert indonesian.month("2026-03") == "Maret 2026"
    assert thai.duration(3 * 3600 + 20 * 60) == "3 ชม. 20 นาที"
    assert indonesian.period("2026-01", "2026-06") == "Januari 2026 sampai Juni 2026"
    moment = datetime(2026, 7, 31, 9, 5, tzinfo=UTC)
    assert indonesian.moment(moment) == "31 Juli 2026, 09:05"


def test_markers_are_words_and_countries_come_from_cldr():
    thai = i18n.page_locale("th")
    assert thai.count("withheld") == "ไม่เปิดเผย"
    assert thai.count(None) == "ไม่แสดง"
    assert thai.country("MM", "Myanmar") == "เมียนมา (พม่า)"
    assert thai.country("XK", "Kosovo") in ("โคโซโว", "Kosovo")
    # English prints the report's own (ISO 3166) names, as the JSON does.
    assert i18n.english().country("BN", "Brunei Darussalam") == "Brunei Darussalam"


def test_every_language_is_named_in_itself():
    names = {code: i18n.page_locale(code).name for code in MEMBER_STATES}
    assert names["th"] == "ไทย"
    assert names["my"] == "မြန်မာ"
    assert len(set(names.values())) == len(names)
