"""The statement rollup always equals a direct count over outcome_statement, and
GET /v1/stats/outcomes groups by ground and by territorial scope.

Randomised sequences of outcomes with and without statements (single and batched), the
fold job, a statement deleted by hand, and the rebuild.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.stats import service as stats
from tests.stats.conftest import GROUP_SQL as FLAG_GROUP_SQL
from tests.stats.conftest import api_counts, submit
from tests.stats.test_rollup_exact import last_year

ACTIONS = ["account_suspended", "content_removed", "no_violation", "account_withheld_in_country"]
# The flag's own dimensions as the outcome tests read them; the rest from the statement.
GROUP_SQL = {
    **FLAG_GROUP_SQL,
    "action": "s.action",
    "ground": "s.ground",
    "scope": "sc.scope",
    "day": "to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "month": "to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
}
GROUPINGS = [
    ["ground"],
    ["scope"],
    ["ground", "scope"],
    ["country", "agency", "platform", "kind", "category", "action", "ground", "scope", "day"],
    ["month", "ground", "action"],
]


def reasons(ground: str, countries: list[str] | None) -> dict[str, Any]:
    """A statement with this ground, global when countries is None."""
    body: dict[str, Any] = {
        "ground": ground,
        "automated_detection": False,
        "automated_decision": "partially",
        "territorial_scope": {"type": "global"}
        if countries is None
        else {"type": "countries", "countries": countries},
    }
    body["legal_provision" if ground == "illegal_content" else "terms_clause"] = "4.2"
    return body


async def direct_counts(app, group_by: list[str]) -> Counter:
    """Statements counted straight from outcome_statement: per scope entry when grouped by
    scope, else once each."""
    cols = [GROUP_SQL[g] for g in group_by]
    lateral = (
        " CROSS JOIN LATERAL unnest(coalesce(s.territorial_scope, ARRAY['global'])) AS sc(scope)"
        if "scope" in group_by
        else ""
    )
    grouping = f" GROUP BY {', '.join(cols)}" if cols else ""
    sql = (
        f"SELECT {', '.join([*cols, 'count(*)'])} FROM outcome_statement s "
        f"JOIN flag f ON f.id = s.flag_id{lateral}{grouping}"
    )
    async with app.state.engine.connect() as conn:
        rows = (await conn.execute(text(sql))).all()
    return +Counter({tuple(r[:-1]): int(r[-1]) for r in rows})


async def assert_exact(app, client, cast) -> None:
    """Every statement grouping of the API equals the direct count now."""
    for groups in GROUPINGS:
        got = await api_counts(client, cast["observer"], groups, **last_year())
        assert got == await direct_counts(app, groups), groups


SCOPES = st.one_of(st.none(), st.lists(st.sampled_from(["DE", "FR", "NL"]), min_size=1))
STATEMENTS = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["illegal_content", "terms_of_service"]), SCOPES),
)
STEP = st.one_of(
    st.tuples(
        st.just("submit"),
        st.sampled_from(["id", "au"]),
        st.sampled_from(["twitter", "youtube"]),
        st.sampled_from(["propaganda", "threat"]),
    ),
    st.tuples(st.just("outcome"), st.integers(0, 30), st.sampled_from(ACTIONS), STATEMENTS),
    st.tuples(
        st.just("batch"),
        st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from(ACTIONS), STATEMENTS),
            min_size=1,
            max_size=4,
        ),
    ),
    st.tuples(st.just("fold")),
    st.tuples(st.just("delete"), st.integers(0, 30)),
)


def item_body(action: str, statement: tuple[str, list[str] | None] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action}
    if statement is not None:
        body["statement"] = reasons(*statement)
    return body


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(steps=st.lists(STEP, min_size=1, max_size=12))
async def test_statement_rollup_equals_direct_counts_after_random_sequences(
    app, client, cast, steps
):
    flags: list[dict[str, Any]] = []

    def pick(i: int) -> dict[str, Any] | None:
        return flags[i % len(flags)] if flags else None

    for step in steps:
        kind = step[0]
        if kind == "fold":
            await stats.fold_stripes(sessionmaker=app.state.sessionmaker)
        elif kind == "submit":
            _, agency, platform, category = step
            flag = await submit(client, cast[agency], platform, category=category)
            flags.append({"id": flag["id"], "platform": platform})
        elif kind == "delete" and (flag := pick(step[1])) is not None:
            # A fix-up by hand, outside the API: the rollup follows it too.
            async with app.state.engine.begin() as conn:
                await conn.execute(
                    text("DELETE FROM outcome_statement WHERE flag_id = :id"), {"id": flag["id"]}
                )
        elif kind == "batch":
            by_platform: dict[str, list[dict[str, Any]]] = {}
            for i, action, statement in step[1]:
                if (flag := pick(i)) is not None:
                    item = {
                        "flag_id": flag["id"],
                        "type": "outcome",
                        **item_body(action, statement),
                    }
                    by_platform.setdefault(flag["platform"], []).append(item)
            for platform, items in by_platform.items():
                resp = await client.post(
                    "/v1/outcomes/batch", json={"items": items}, headers=cast[platform].headers
                )
                assert resp.status_code == 200, resp.text
        elif kind == "outcome" and (flag := pick(step[1])) is not None:
            resp = await client.post(
                f"/v1/flags/{flag['id']}/outcome",
                json=item_body(step[2], step[3]),
                headers=cast[flag["platform"]].headers,
            )
            # 409: already closed otherwise; 422: withheld without a country list.
            assert resp.status_code in (200, 409, 422), resp.text
    await assert_exact(app, client, cast)
    async with app.state.engine.begin() as conn:
        await conn.execute(text("SELECT fb_stats_rebuild()"))
    await assert_exact(app, client, cast)


async def test_a_flag_withheld_in_two_countries_counts_under_each_scope_and_once_by_ground(
    app, client, cast
):
    withheld = await submit(client, cast["id"], "twitter")
    suspended = await submit(client, cast["id"], "twitter")
    plain = await submit(client, cast["id"], "twitter")
    for flag, body in (
        (
            withheld,
            {
                "action": "account_withheld_in_country",
                "statement": reasons("illegal_content", ["fr", "DE"]),
            },
        ),
        (
            suspended,
            {"action": "account_suspended", "statement": reasons("terms_of_service", None)},
        ),
        (plain, {"action": "account_suspended"}),
    ):
        resp = await client.post(
            f"/v1/flags/{flag['id']}/outcome", json=body, headers=cast["twitter"].headers
        )
        assert resp.status_code == 200, resp.text
    observer = cast["observer"]
    assert await api_counts(client, observer, ["scope"]) == Counter(
        {("DE",): 1, ("FR",): 1, ("global",): 1}
    )
    assert await api_counts(client, observer, ["ground"]) == Counter(
        {("illegal_content",): 1, ("terms_of_service",): 1}
    )
    assert await api_counts(client, observer, ["action", "scope"]) == Counter(
        {
            ("account_withheld_in_country", "DE"): 1,
            ("account_withheld_in_country", "FR"): 1,
            ("account_suspended", "global"): 1,
        }
    )
    # The action filter applies to statements too; the plain outcome counts only outside
    # the statement groupings.
    resp = await client.get(
        "/v1/stats/outcomes",
        params={"group_by": "ground", "action": "account_suspended"},
        headers=observer.headers,
    )
    assert [(i["ground"], i["count"]) for i in resp.json()["items"]] == [("terms_of_service", 1)]
    assert await api_counts(client, observer, ["action"]) == Counter(
        {("account_withheld_in_country",): 1, ("account_suspended",): 2}
    )
    csv = await client.get(
        "/v1/stats/outcomes.csv", params={"group_by": "scope"}, headers=observer.headers
    )
    assert csv.status_code == 200 and csv.text.splitlines()[0] == "scope,count"
