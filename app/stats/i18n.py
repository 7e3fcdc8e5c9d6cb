"""The transparency page's languages: catalogues, the reader's choice, local formats.

A language is a folder `app/stats/locales/<locale>/LC_MESSAGES/messages.po`: adding one
is enough for the page to offer it. Catalogues are read with Babel once per process (the
first request, or `warm()` at start) and kept; no request touches a file. English is the
source language: its catalogue lists every message and may leave msgstr empty.

Only the page is translated, when it is drawn. The published reports stay the frozen,
signed English documents they are; names and labels in them are replaced here by their
translation (countries from CLDR, outcome actions from the catalogues), never in them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.errors import field_error

Value = int | float | str | None
"""A figure as drawn: a number, a suppression marker ("<5", "withheld"), or None for
"not shown"."""

LOCALES_DIR = Path(__file__).parent / "locales"
TEMPLATES_DIR = Path(__file__).parent / "templates"
SOURCE = "en"
"""The language the messages are written in, and the page's language when nothing matches."""
ALIASES = {"tl": "fil", "in": "id"}
"""Older or alternative tags readers' browsers still send for a supported language."""
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_DURATION_UNITS = {
    "s": "duration-second",
    "min": "duration-minute",
    "h": "duration-hour",
    "d": "duration-day",
}


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is defined; translated where it is shown."""
    return message


@functools.cache
def catalogues() -> dict[str, Translations]:
    """Every language with a catalogue, read from its `.po` file once per process."""
    found: dict[str, Translations] = {}
    for po in sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")):
        code = po.parent.parent.name
        with po.open("rb") as fp:
            catalogue = read_po(fp, locale=code)
        mo = BytesIO()
        write_mo(mo, catalogue)  # fuzzy entries are left out, as gettext would
        mo.seek(0)
        found[code] = Translations(mo, domain="messages")
    return found


def languages() -> tuple[str, ...]:
    """The page's languages: English first, then the others by their code."""
    return (SOURCE, *sorted(code for code in catalogues() if code != SOURCE))


def _key(tag: str) -> str:
    return tag.replace("_", "-").lower()


def _match(tag: str) -> str | None:
    """The supported language a tag names (a region or script is ignored if need be)."""
    by_key = {_key(code): code for code in languages()}
    key = _key(tag)
    primary = key.split("-")[0]
    for candidate in (key, ALIASES.get(key), primary, ALIASES.get(primary)):
        if candidate and candidate in by_key:
            return by_key[candidate]
    return None


def preferences(accept_language: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 and `*` dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if _TAG.match(tag.strip()) and 0 < quality <= 1:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def choose(*, lang: str | None, accept_language: str | None) -> str:
    """The page's language: `?lang=` (422 when it is not offered), then Accept-Language,
    else English."""
    if lang is not None:
        chosen = _match(lang)
        if chosen is None:
            raise field_error(
                "lang", f"not a language of this page; one of {', '.join(languages())}"
            )
        return chosen
    for tag in preferences(accept_language or ""):
        chosen = _match(tag)
        if chosen is not None:
            return chosen
    return SOURCE


@dataclass(frozen=True)
class PageLocale:
    """One language of the page: its messages and CLDR's way of writing numbers and dates."""

    code: str
    locale: Locale
    translations: Translations

    def gettext(self, message: str, **values: object) -> str:
        """The message in this language, with `%(name)s` placeholders filled in."""
        text = self.translations.gettext(message)
        return text % values if values else text

    @property
    def tag(self) -> str:
        """The BCP 47 tag for `lang` and Content-Language (fil, ms, th, ...)."""
        return self.code.replace("_", "-")

    @property
    def name(self) -> str:
        """The language named in itself (ไทย, Melayu), for the language switcher."""
        return self.locale.display_name or self.code

    def count(self, value: Value) -> str:
        """A published count: a number as this language writes it, or the suppression
        marker in words; the figure itself is the report's."""
        if value is None:
            return self.gettext("not shown")
        if value == "<5":
            return self.gettext("<5")
        if value == "withheld":
            return self.gettext("withheld")
        if isinstance(value, str):
            return value
        return format_decimal(int(value), locale=self.locale, numbering_system="default")

    def amount(self, number: float, unit: str) -> str:
        """A whole number of a duration unit (`s`, `min`, `h`, `d`), CLDR's short form."""
        return format_unit(number, _DURATION_UNITS[unit], length="short", locale=self.locale)

    def duration(self, seconds: float) -> str:
        """A duration in its two largest units: 45 sec, 12 min, 3 hr 20 min, 2 days 4 hr."""
        total = max(0, round(seconds))
        if total < 60:
            return self.amount(total, "s")
        minutes = round(total / 60)
        if minutes < 60:
            return self.amount(minutes, "min")
        hours, minutes = divmod(minutes, 60)
        if hours < 24:
            return self._pair(hours, "h", minutes, "min")
        days, hours = divmod(hours, 24)
        return self._pair(days, "d", hours, "h")

    def _pair(self, big: int, big_unit: str, small: int, small_unit: str) -> str:
        first = self.amount(big, big_unit)
        return f"{first} {self.amount(small, small_unit)}" if small else first

    def month(self, month: str) -> str:
        """ "2024-03" as this language names the month and year (March 2024, มีนาคม 2024)."""
        year, mon = month.split("-")
        return format_date(date(int(year), int(mon), 1), "LLLL y", locale=self.locale)

    def month_short(self, number: int) -> str:
        """A month's short stand-alone name for an axis (Mar, มี.ค.)."""
        return format_date(date(2000, number, 1), "LLL", locale=self.locale)

    def period(self, first: str, last: str) -> str:
        """A period of months ("2026-01", "2026-06") in words."""
        if first == last:
            return self.month(first)
        return self.gettext("%(first)s to %(last)s", first=self.month(first), last=self.month(last))

    def moment(self, when: datetime) -> str:
        """A date and time (already in UTC) as this language writes them."""
        day = format_date(when, "long", locale=self.locale)
        return f"{day}, {format_time(when, 'HH:mm', locale=self.locale)}"

    def country(self, code: str, published: str) -> str:
        """A country's name in this language, from CLDR; in English, the name the report
        itself publishes (ISO 3166, as in the JSON), so the two never disagree."""
        if self.code == SOURCE:
            return published
        return str(self.locale.territories.get(code.upper(), published))

    @functools.cached_property
    def templates(self) -> Environment:
        """The page's templates with this language's gettext installed (built once)."""
        env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.policies["ext.i18n.trimmed"] = True
        env.install_gettext_translations(self.translations, newstyle=True)  # type: ignore[attr-defined]
        return env


@functools.cache
def page_locale(code: str) -> PageLocale:
    """The language `code` (one of `languages()`), built once per process."""
    return PageLocale(code, Locale.parse(code), catalogues()[code])


def english() -> PageLocale:
    """The source language: the default of the charts and of readers nothing matches."""
    return page_locale(SOURCE)


def warm() -> None:
    """Read every catalogue and compile the page for each language now, not on a request."""
    for code in languages():
        page_locale(code).templates.get_template("transparency.html")
