"""GET /transparency in each member state's language: chosen by `?lang=` or
Accept-Language, every text translated, figures and reports unchanged, fonts generic."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from app.stats import i18n
from tests.conftest import assert_problem
from tests.stats.transparency_helpers import (
    page_text,
    publish_now,
    seed_outcomes,
    small_numbers_in_page,
)

PLAN = {
    ("ID", "chirp", "account_suspended"): 12,
    ("TH", "facepage", "account_suspended"): 6,
    ("MY", "chirp", "account_suspended"): 2,
    ("PH", "chirp", "no_violation"): 5,
}
GENERIC_FAMILIES = {"system-ui", "sans-serif", "serif", "monospace"}


@pytest.fixture
async def published(world, client) -> str:
    await seed_outcomes(world, client, PLAN)
    return await publish_now(world)


def english_left_over(code: str, page: str) -> list[str]:
    """Messages whose English text the page still shows though the catalogue has them
    in this language (a string the template or a chart did not pass through gettext)."""
    loc = i18n.page_locale(code)
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page))
    text = re.sub(r"\s+", " ", text)
    left = []
    for message in loc.translations._catalog:  # type: ignore[attr-defined]
        if not isinstance(message, str) or "%" in message or "<" in message:
            continue
        if len(message) > 12 and loc.gettext(message) != message and message in text:
            left.append(message)
    return left


def font_families(page: str) -> set[str]:
    """Every font family the page's CSS and its SVG charts name."""
    found: set[str] = set()
    for value in re.findall(r'font-family(?:="|:\s*)([^";}]+)', htmllib.unescape(page)):
        found |= {f.strip().strip("'\"") for f in value.split(",")}
    return found


@pytest.mark.parametrize("code", ["en", "id", "ms", "th", "my", "fil"])
async def test_each_language_renders_translated_with_its_headers(client, published, code):
    resp = await client.get(f"/transparency?period={published}&lang={code}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-language"] == code
    assert "accept-language" in resp.headers["vary"].lower()
    page = resp.text
    loc = i18n.page_locale(code)
    assert f'<html lang="{code}">' in page
    heading = loc.gettext("Referrals of terrorist-linked accounts to social-media platforms")
    assert f"<h1>{htmllib.escape(heading, quote=False)}</h1>" in page
    for title in ("Suspensions following flags, by month and platform", "Small numbers"):
        assert htmllib.escape(loc.gettext(title), quote=False) in page
    assert english_left_over(code, page) == []
    # The figures are the report's: small counts hidden in every language alike.
    assert small_numbers_in_page(page) == []
    assert 'data-value="&lt;5"' in page  # the marks carry the published value
    # Generic font families only, and nothing that could load a font or anything else.
    assert font_families(page) <= GENERIC_FAMILIES, font_families(page)
    assert "@font-face" not in page and "@import" not in page
    assert re.findall(r"url\((?!#)", page) == []
    assert all(link.startswith(("/", "#", "data:")) for link in page_text(page).links)


async def test_country_and_month_names_and_markers_are_the_readers(client, published):
    thai = (await client.get(f"/transparency?period={published}&lang=th")).text
    assert "อินโดนีเซีย" in thai and "มาเลเซีย" in thai  # CLDR, not the report's English
    under_five = i18n.page_locale("th").gettext("Under five: hidden to protect small numbers")
    assert f'<abbr class="hidden-count" title="{under_five}">&lt;5</abbr>' in thai
    indonesian = (await client.get(f"/transparency?period={published}&lang=id")).text
    assert "Filipina" in indonesian or "Thailand" in indonesian
    english = (await client.get(f"/transparency?period={published}")).text
    assert "Indonesia" in english and "Thailand" in english


async def test_accept_language_chooses_when_the_query_does_not(client, published):
    resp = await client.get("/transparency", headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})
    assert resp.headers["content-language"] == "th" and '<html lang="th">' in resp.text
    resp = await client.get("/transparency?lang=id", headers={"Accept-Language": "th"})
    assert resp.headers["content-language"] == "id"
    resp = await client.get("/transparency", headers={"Accept-Language": "tl-PH, en;q=0.1"})
    assert resp.headers["content-language"] == "fil"
    resp = await client.get("/transparency", headers={"Accept-Language": "de-DE"})
    assert resp.headers["content-language"] == "en"


async def test_the_switcher_names_each_language_in_itself_and_keeps_the_period(client, published):
    page = (await client.get(f"/transparency?period={published}&lang=ms")).text
    for code in i18n.languages():
        name = htmllib.escape(i18n.page_locale(code).name, quote=False)
        link = f'href="/transparency?period={published}&amp;lang={code}"'
        assert re.search(rf"{re.escape(link)}[^>]*>{re.escape(name)}</a>", page), code
    assert 'lang="ms" hreflang="ms" aria-current="true"' in page


@pytest.mark.parametrize("query", ["lang=de", "lang=xx-YY", "lang=th%3Cscript", "lang="])
async def test_a_language_the_page_does_not_offer_is_422_naming_lang(client, query):
    problem = assert_problem(await client.get(f"/transparency?{query}"), 422)
    assert problem["errors"][0]["field"] == "lang"


async def test_free_periods_are_still_refused_in_any_language(client):
    problem = assert_problem(await client.get("/transparency?lang=th&year=2026"), 422)
    assert problem["errors"][0]["field"] == "year"


async def test_the_published_documents_do_not_depend_on_the_language(client, published):
    """Translation happens only when the page is drawn: the signed bytes are one."""
    thai = {"Accept-Language": "th"}
    for path in ("/transparency.json", f"/transparency/reports/{published}.json"):
        plain = await client.get(path)
        translated = await client.get(path, headers=thai)
        assert plain.status_code == translated.status_code == 200
        assert plain.content == translated.content
        assert "content-language" not in translated.headers
