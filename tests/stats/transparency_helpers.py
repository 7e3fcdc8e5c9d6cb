"""Seeding and inspection helpers shared by the transparency tests and the browser test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx

from app.stats import publication
from app.stats.period import containing
from app.stats.publication import Policy
from tests.conftest import Party, World, flag_body, party

PLATFORM_NAMES = {"chirp": "Chirp", "facepage": "FacePage", "vidtube": "VidTube"}


async def seed_outcomes(
    world: World,
    client: httpx.AsyncClient,
    plan: Mapping[tuple[str, str, str], int],
    *,
    acknowledge_first: bool = True,
) -> dict[str, Party]:
    """Answer flags through the API: plan maps (country, platform, action) to a count."""
    parties: dict[str, Party] = {}
    for country, platform, _ in plan:
        if country not in parties:
            parties[country] = await party(world, "agency", country=country)
        if platform not in parties:
            name = PLATFORM_NAMES.get(platform, platform)
            parties[platform] = await party(world, "platform", platform=platform, name=name)
    for (country, platform, action), n in plan.items():
        if n == 0:
            continue
        flags = [flag_body(platform) for _ in range(n)]
        resp = await client.post(
            "/v1/flags/batch", json={"flags": flags}, headers=parties[country].headers
        )
        assert resp.status_code == 200, resp.text
        results = resp.json()["results"]
        assert all(r["status"] == 201 for r in results), results
        ids = [r["flag"]["id"] for r in results]
        items: list[dict[str, Any]] = []
        if acknowledge_first:
            items += [{"flag_id": i, "type": "ack"} for i in ids]
        items += [{"flag_id": i, "type": "outcome", "action": action} for i in ids]
        resp = await client.post(
            "/v1/outcomes/batch", json={"items": items}, headers=parties[platform].headers
        )
        assert resp.status_code == 200, resp.text
        assert all(r["status"] == 200 for r in resp.json()["results"]), resp.text
    return parties


async def report_totals(
    client: httpx.AsyncClient,
    platform: Party,
    *,
    period_start: str,
    period_end: str,
    own_detection: int,
    other: int,
    removed: int = 0,
) -> None:
    """A platform's self-reported suspensions (and content removals) for a period."""
    rows = [
        {"category": "propaganda", "action": "account_suspended", "source": "own_detection",
         "count": own_detection},
        {"category": "recruitment", "action": "account_suspended", "source": "other",
         "count": other},
        {"category": "propaganda", "action": "content_removed", "source": "own_detection",
         "count": removed},
    ]  # fmt: skip
    body = {"period_start": period_start, "period_end": period_end, "rows": rows}
    resp = await client.post("/v1/platform-reports", json=body, headers=platform.headers)
    assert resp.status_code in (200, 201), resp.text


async def publish_now(world: World, *, granularity: str = "half") -> str:
    """Publish the report of the period holding today, as the periodic job would once it
    has closed and its grace period passed (the clock is moved, not the data). Returns the
    period's name."""
    today = datetime.now(UTC).date()
    period = containing(today, granularity)
    policy = Policy(granularity=granularity)
    after = datetime.combine(period.date_to, time(), UTC) + policy.grace + timedelta(days=1)
    state = world.app.state
    async with state.sessionmaker() as session, session.begin():
        done = await publication.publish_due_in(
            session=session, ring=state.verifier.ring, policy=policy, actor_label="test", now=after
        )
    assert period.name in [p.period for p in done], done
    return period.name


_NUMBER = re.compile(r"(?<![A-Za-z0-9_\-])\d[\d,.]*(?![A-Za-z0-9_])")


def numbers_in(text: str) -> Iterator[float]:
    """Every standalone number in running text ("1,234", "12", "3.5"), ignoring words like
    "p-0a1" or "h264"."""
    for match in _NUMBER.finditer(text):
        token = match.group().rstrip(".,")
        yield float(token.replace(",", ""))


class PageText(HTMLParser):
    """The visible text of a page and its data-value attributes, minus what is not a count.

    Left out: style and script, <time> (dates and durations), SVG text or marks with the
    class "duration" (response times are not counts) and report revision numbers (class
    "revision").
    """

    SKIPPED = {"style", "script", "time"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.data_values: list[str] = []
        self.links: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track skipped elements, collect data-value and link targets."""
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        for name in ("src", "href", "action", "xlink:href"):
            if attributes.get(name) is not None:
                self.links.append(str(attributes[name]))
        if "data-value" in attributes and "duration" not in classes:
            self.data_values.append(str(attributes["data-value"]))
        if self._skip or tag in self.SKIPPED or {"duration", "revision"} & set(classes):
            self._skip.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Self-closing SVG elements: attributes only."""
        self.handle_starttag(tag, attrs)
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_endtag(self, tag: str) -> None:
        """Leave a skipped element."""
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        """Keep text outside skipped elements."""
        if not self._skip:
            self.texts.append(data)


def page_text(html: str) -> PageText:
    """Parse a page."""
    parser = PageText()
    parser.feed(html)
    parser.close()
    return parser


def small_numbers_in_page(html: str) -> list[str]:
    """Counts from one to four that the page shows anywhere (text or data-value)."""
    parsed = page_text(html)
    found = []
    for text in parsed.texts:
        found += [f"{n:g} in {text.strip()[:80]!r}" for n in numbers_in(text) if 0 < n < 5]
    for value in parsed.data_values:
        if value not in ("<5", "withheld") and 0 < float(value) < 5:
            found.append(f"data-value={value}")
    return found


def small_numbers_in_json(document: Any, path: str = "$") -> list[str]:
    """Numbers from one to four anywhere in a JSON document, except durations (*_seconds)
    and report revision numbers."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key.endswith("_seconds") or key == "revision":
                continue
            found += small_numbers_in_json(value, f"{path}.{key}")
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += small_numbers_in_json(value, f"{path}[{i}]")
    elif isinstance(document, bool):
        pass
    elif isinstance(document, int | float) and 0 < document < 5:
        found.append(f"{path}={document}")
    elif isinstance(document, str) and re.fullmatch(r"\d+", document) and 0 < int(document) < 5:
        # A count smuggled in as a string would be as bad as a number.
        found.append(f"{path}={json.dumps(document)}")
    return found
