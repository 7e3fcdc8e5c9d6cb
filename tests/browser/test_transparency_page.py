"""A real browser loads the public transparency page: charts drawn from the published
reports, no console errors.

Runs headless Chromium against the app served by uvicorn, over the DevTools protocol, and
saves screenshots to tests/artifacts/ (desktop and phone widths) for people to look at.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from app.stats import i18n
from app.stats.period import containing
from tests.browser.cdp import CDPClient, Page
from tests.stats.transparency_helpers import publish_now, report_totals, seed_outcomes

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

DRAWN_MARKS = """[...document.querySelectorAll('svg.chart [data-value]')]
    .filter(e => parseFloat(e.getAttribute('data-value')) > 0).length"""
CHART_SIZES = """[...document.querySelectorAll('svg.chart[role="img"]')].map(s => {
    const r = s.getBoundingClientRect(); return [s.id, r.width, r.height];
})"""
HIDDEN_MARKS = """[...document.querySelectorAll('svg.chart [data-value]')]
    .filter(e => ['<5', 'withheld'].includes(e.getAttribute('data-value'))).length"""


# A year of referrals shaped like the region's: a few busy countries, a long tail (Brunei's
# single suspension and VidTube's few must show as "<5"), most flags ending in suspension.
PLAN = {
    **{
        ("ID", p, "account_suspended"): n
        for p, n in (("chirp", 70), ("facepage", 34), ("vidtube", 9))
    },
    **{("AU", p, "account_suspended"): n for p, n in (("chirp", 28), ("facepage", 16))},
    **{("MY", p, "account_suspended"): n for p, n in (("chirp", 17), ("facepage", 9))},
    **{("PH", p, "account_suspended"): n for p, n in (("chirp", 14), ("facepage", 11))},
    ("SG", "chirp", "account_suspended"): 8,
    ("TH", "facepage", "account_suspended"): 7,
    ("NZ", "chirp", "account_suspended"): 6,
    ("BN", "chirp", "account_suspended"): 1,
    ("ID", "chirp", "content_removed"): 22,
    ("AU", "facepage", "content_removed"): 9,
    ("ID", "chirp", "no_violation"): 12,
    ("MY", "facepage", "account_restricted"): 6,
    ("PH", "vidtube", "account_not_found"): 5,
    ("AU", "chirp", "insufficient_information"): 3,
}  # fmt: skip

LANGUAGE_PLAN = {
    ("ID", "chirp", "account_suspended"): 12,
    ("TH", "facepage", "account_suspended"): 7,
    ("MM", "chirp", "account_suspended"): 2,
    ("PH", "facepage", "no_violation"): 5,
}

SPREAD_OVER_MONTHS = """
UPDATE flag SET submitted_at = t.opened - interval '5 minutes', opened_at = t.opened,
       delivered_at = t.opened, acknowledged_at = t.opened + t.ack,
       closed_at = t.opened + t.ack + t.answer, actioned_at = t.opened + t.ack + t.answer
FROM (SELECT id,
             now() - make_interval(months => h % 12, days => h % 27) - interval '2 days'
                 AS opened,
             make_interval(mins => 10 + h % 230) AS ack,
             make_interval(hours => 1 + h % 30) AS answer
      FROM (SELECT id, abs(hashtext(id::text)) AS h FROM flag WHERE status = 'closed') s) t
WHERE flag.id = t.id
"""


def half_year_before(today: date) -> tuple[str, str]:
    """The last complete calendar half-year's first day and the first day after it."""
    if today.month > 6:
        return date(today.year, 1, 1).isoformat(), date(today.year, 7, 1).isoformat()
    return date(today.year - 1, 7, 1).isoformat(), date(today.year, 1, 1).isoformat()


async def seed_a_year(world, client) -> str:
    """Answered flags spread over twelve months, and the platforms' own half-year totals,
    published as the server would once the periods have closed. Returns the last complete
    half-year, whose report has the platforms' totals."""
    parties = await seed_outcomes(world, client, PLAN)
    # Outcomes are recorded now; move them back over the year (the rollup triggers follow
    # every change of closed_at) and give them plausible response times.
    async with world.app.state.engine.begin() as conn:
        await conn.execute(text(SPREAD_OVER_MONTHS))
    start, end = half_year_before(datetime.now(UTC).date())
    # Shaped on Twitter's 2017 report: most suspensions found by its own tools.
    await report_totals(
        client, parties["chirp"], period_start=start, period_end=end,
        own_detection=255_248, other=19_212, removed=41_000,
    )  # fmt: skip
    await report_totals(
        client, parties["facepage"], period_start=start, period_end=end,
        own_detection=96_400, other=8_300,
    )  # fmt: skip
    await publish_now(world)
    return containing(date.fromisoformat(start), "half").name


async def wait_for_marks(page: Page, minimum: int, within: float = 30.0) -> int:
    """Poll until the page shows at least `minimum` drawn marks (or the deadline passes)."""
    deadline = time.monotonic() + within
    while True:
        drawn = int(await page.evaluate(DRAWN_MARKS))
        if drawn >= minimum or time.monotonic() > deadline:
            return drawn
        await page.evaluate("new Promise(r => requestAnimationFrame(() => r(1)))")


async def test_transparency_page_renders_in_chromium(world, client, live_server, browser):
    period = await seed_a_year(world, client)
    page = await Page.open(browser, width=1280, height=900)
    await page.navigate(f"{live_server}/transparency?period={period}")

    assert await page.evaluate("document.readyState") == "complete"
    assert str(await page.evaluate("document.title")).startswith("Transparency report")
    # A half-year of the year's data: a bar per country, platform and action, a segment
    # per month and platform, the platforms' totals, timings and the periods' trend.
    drawn = await wait_for_marks(page, 30)
    assert drawn >= 30, f"only {drawn} chart marks with data were drawn"
    assert int(await page.evaluate(HIDDEN_MARKS)) >= 2  # the small counts, as stubs
    sizes = await page.evaluate(CHART_SIZES)
    assert len(sizes) == 7, sizes  # the report's six and the trend across periods
    assert all(width > 300 and height > 40 for _, width, height in sizes), sizes
    # The Content-Security-Policy allows no script at all, yet the page is complete:
    assert await page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.errors() == []
    shot = ARTIFACTS / "transparency.png"
    width, height = await page.screenshot(shot)
    assert shot.stat().st_size > 20_000 and width == 1280 and height > 1500

    phone = await Page.open(browser, width=390, height=844)
    await phone.navigate(f"{live_server}/transparency?period={period}")
    assert await wait_for_marks(phone, 30) >= 30
    # Wide charts scroll inside their frame; the page itself never scrolls sideways.
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.errors() == []
    await phone.screenshot(ARTIFACTS / "transparency-mobile.png")


async def test_a_blocked_resource_would_be_reported(live_server, browser: CDPClient):
    """The error collection works: a page that breaks its CSP is caught."""
    page = await Page.open(browser)
    await page.navigate(f"{live_server}/transparency")
    await page.evaluate("console.error('deliberate')")
    deadline = time.monotonic() + 10
    while not page.errors() and time.monotonic() < deadline:
        await page.evaluate("1")
    assert any("deliberate" in e for e in page.errors())


# Text of each script measured in the page's own font: a base letter alone, and with the
# marks that sit above or below it. A font that has the script stacks the marks on the
# letter (about the same width); without one every code point is a box of its own.
GLYPH_WIDTHS = """(() => {
    const width = text => {
        const span = document.createElement('span');
        span.textContent = text;
        span.style.cssText = 'font-size: 40px; white-space: pre; position: absolute';
        document.body.appendChild(span);
        const w = span.getBoundingClientRect().width;
        span.remove();
        return w;
    };
    return {
        th: [width('\\u0e01'), width('\\u0e01\\u0e35\\u0e48')],
        my: [width('\\u1000'), width('\\u1000\\u102f\\u1036')],
    };
})()"""
SCRIPT_OF = {"th": "th", "my": "my"}
TRANSLATED_HEADING = "document.querySelector('h1').textContent"


async def test_every_language_renders_in_chromium(world, client, live_server, browser):
    """One browser, one page load per language: the document's language, its translated
    heading, real glyphs for Thai and Burmese, no errors, nothing fetched from elsewhere."""
    await seed_outcomes(world, client, LANGUAGE_PLAN)
    period = await publish_now(world)
    page = await Page.open(browser, width=1280, height=900)
    await page.send("Network.enable")
    for code in i18n.languages():
        loc = i18n.page_locale(code)
        await page.navigate(f"{live_server}/transparency?period={period}&lang={code}")
        assert await page.evaluate("document.documentElement.lang") == loc.tag
        heading = loc.gettext("Referrals of terrorist-linked accounts to social-media platforms")
        assert await page.evaluate(TRANSLATED_HEADING) == heading
        assert await wait_for_marks(page, 5) >= 5, code
        if code in SCRIPT_OF:
            alone, marked = (await page.evaluate(GLYPH_WIDTHS))[SCRIPT_OF[code]]
            assert alone > 10 and marked < alone * 1.3, (code, alone, marked)
        await page.screenshot(ARTIFACTS / f"transparency-{code}.png")
    assert page.errors() == []
    requested = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert len(requested) >= len(i18n.languages())
    assert [u for u in requested if not u.startswith((live_server, "data:"))] == []
