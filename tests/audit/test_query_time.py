"""Every time filter accepts a UTC day or an RFC 3339 time, as the statistics routes do."""

from __future__ import annotations

import pytest

from app.kit.days import parse_utc_time
from tests.conftest import assert_problem, flag_body, party


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-11-01", "2026-11-01T00:00:00+00:00"),
        ("2026-11-01T08:30:00Z", "2026-11-01T08:30:00+00:00"),
        ("2026-11-01T08:30:00+07:00", "2026-11-01T01:30:00+00:00"),
    ],
)
def test_a_day_is_its_midnight_utc_and_a_time_is_moved_to_utc(raw, iso):
    assert parse_utc_time(raw).isoformat() == iso


@pytest.mark.parametrize("raw", ["2026-11-01T08:30:00", "yesterday", "2026-13-01", "0001-01-01"])
def test_anything_else_is_refused(raw):
    with pytest.raises(ValueError):
        parse_utc_time(raw)


async def test_flags_and_audit_take_a_bare_day(world, client):
    agency = await party(world, "agency", country="MY")
    await party(world, "platform", platform="twitter")
    resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    assert resp.status_code == 201
    day = resp.json()["submitted_at"][:10]
    listed = await client.get(
        f"/v1/flags?submitted_after={day}&submitted_before=2999-01-01", headers=agency.headers
    )
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1
    later = await client.get("/v1/flags?submitted_before=" + day, headers=agency.headers)
    assert later.status_code == 200 and later.json()["items"] == []

    observer = await party(world, "observer")
    audit = await client.get(f"/v1/audit?from={day}", headers=observer.headers)
    assert audit.status_code == 200 and audit.json()["items"]
    assert (await client.get(f"/v1/audit?to={day}", headers=observer.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/flags?submitted_after=tomorrow", "submitted_after"),
        ("/v1/flags?submitted_before=2026-11-01T00:00:00", "submitted_before"),
        ("/v1/audit?from=2026-02-30", "from"),
        ("/v1/audit?to=nope", "to"),
    ],
)
async def test_an_invalid_bound_is_422_naming_the_parameter(world, client, path, parameter):
    kind = "agency" if path.startswith("/v1/flags") else "observer"
    resp = await client.get(path, headers=(await party(world, kind)).headers)
    problem = assert_problem(resp, 422)
    assert parameter in [e["field"].split(".")[-1] for e in problem["errors"]], problem
