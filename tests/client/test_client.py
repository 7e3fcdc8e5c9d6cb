"""The typed client: retries, token refresh, Idempotency-Keys, the feed iterator."""

from __future__ import annotations

import httpx

from app.client import ApiError, AsyncFlagBridgeClient, FileCursorStore, FlagBridgeClient
from tests.conftest import flag_body


def _scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            seen.append(request)
            return httpx.Response(200, json={"access_token": f"t{len(seen)}", "expires_in": 3600})
        seen.append(request)
        return answers.pop(0)

    return httpx.MockTransport(handle)


def test_retries_429_and_503_honouring_retry_after_with_one_idempotency_key(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("app.client.sync.time.sleep", slept.append)
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(429, headers={"retry-after": "7"}, json={"title": "slow down"}),
        httpx.Response(503, json={"title": "busy"}),
        httpx.Response(201, json={"id": "f1"}),
    ]
    with FlagBridgeClient("http://fb", "id", "secret", transport=_scripted(answers, seen)) as fb:
        assert fb.submit_flag({"x": 1}) == {"id": "f1"}
    posts = [r for r in seen if r.url.path == "/v1/flags"]
    assert len(posts) == 3
    assert len({r.headers["idempotency-key"] for r in posts}) == 1
    assert slept[0] == 7.0 and len(slept) == 2
    assert sum(r.url.path == "/oauth/token" for r in seen) == 1  # the token is cached


def test_a_refused_token_is_refreshed_once_then_the_error_is_raised(monkeypatch):
    seen: list[httpx.Request] = []
    answers = [httpx.Response(401, json={"title": "expired"}), httpx.Response(200, json={"ok": 1})]
    with FlagBridgeClient("http://fb", "id", "s", transport=_scripted(answers, seen)) as fb:
        assert fb.get_flag("f") == {"ok": 1}
        assert [r.headers.get("authorization") for r in seen if r.url.path != "/oauth/token"] == [
            "Bearer t1",
            "Bearer t3",
        ]
    answers = [httpx.Response(401, json={"title": "no"}), httpx.Response(401, json={"title": "no"})]
    with FlagBridgeClient("http://fb", "id", "s", transport=_scripted(answers, [])) as fb:
        try:
            fb.get_flag("f")
        except ApiError as exc:
            assert exc.status == 401
        else:
            raise AssertionError("a second 401 must be raised")


def test_gives_up_after_max_retries(monkeypatch):
    monkeypatch.setattr("app.client.sync.time.sleep", lambda s: None)
    answers = [httpx.Response(503, json={"title": "busy"}) for _ in range(3)]
    with FlagBridgeClient(
        "http://fb", "i", "s", max_retries=2, transport=_scripted(answers, [])
    ) as fb:
        try:
            fb.list_flags()
        except ApiError as exc:
            assert exc.status == 503
        else:
            raise AssertionError("expected ApiError")


async def test_async_client_submits_and_follows_the_feed_from_its_saved_position(
    app, world, client, tmp_path
):
    agency = await world.credentials("agency", country="SG")
    slug = "clientfeed"
    platform = await world.credentials("platform", platform=slug)
    transport = httpx.ASGITransport(app=app)
    store = FileCursorStore(tmp_path / "feed.cursor")
    async with (
        AsyncFlagBridgeClient(
            "http://testserver", agency.client_id, agency.client_secret, transport=transport
        ) as ag,
        AsyncFlagBridgeClient(
            "http://testserver", platform.client_id, platform.client_secret, transport=transport
        ) as pl,
    ):
        first = await ag.submit_flag(flag_body(slug))
        assert [i["flag"]["id"] async for i in pl.feed(store=store)] == [first["id"]]
        assert store.load()
        second = await ag.submit_flag(flag_body(slug))
        # A new iterator starts where the last one stopped: only the new event.
        assert [i["flag"]["id"] async for i in pl.feed(store=store)] == [second["id"]]
        try:
            await ag.get_flag("00000000-0000-0000-0000-000000000000")
        except ApiError as exc:
            assert exc.status == 404 and exc.problem["status"] == 404
        else:
            raise AssertionError("expected a 404")
