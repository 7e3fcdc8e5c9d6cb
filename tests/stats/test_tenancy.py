"""Who may read statistics: every stats route against every kind of caller.

Only `stats:read` (observers) reads them: agencies, platforms and operators get 403, a
request without a token 401. An observer without `stats:read` (audit only) is 403 too.
"""

from __future__ import annotations

import pytest

from tests.conftest import Party, assert_problem

ROUTES = [
    "/v1/stats/outcomes",
    "/v1/stats/outcomes.csv",
    "/v1/stats/platform-reports",
    "/v1/stats/agencies",
    "/v1/stats/platforms",
    "/v1/stats/response-times",
]


@pytest.fixture
async def callers(world, cast) -> dict[str, dict[str, str]]:
    auditor = await world.credentials("observer", scopes=["audit:read"])
    return {
        "agency": cast["id"].headers,
        "platform": cast["twitter"].headers,
        "operator": await world.admin_headers(),
        "auditor": Party(
            auditor, {"Authorization": f"Bearer {await world.token(auditor)}"}
        ).headers,
        "observer": cast["observer"].headers,
        "none": {},
    }


async def test_every_stats_route_against_every_caller(client, callers):
    expected = {"agency": 403, "platform": 403, "operator": 403, "auditor": 403, "none": 401}
    for path in ROUTES:
        for who, headers in callers.items():
            resp = await client.get(path, headers=headers)
            if who == "observer":
                assert resp.status_code == 200, (path, resp.text)
            else:
                problem = assert_problem(resp, expected[who])
                assert "stats" in problem["detail"] or expected[who] == 401, (path, who, problem)
