"""`/v1/webhook`: registration, the secret shown once, rotation, deletion, URL policy."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.webhooks import urls
from app.webhooks.worker import DeliveryWorker
from tests.conftest import assert_problem, flag_body, party


async def _audit_actions(app) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_entry WHERE object_type = 'webhook' ORDER BY seq")
        )
        return [r[0] for r in rows]


async def test_set_get_rotate_delete_show_the_secret_only_when_made(app, world, client, receiver):
    platform = await party(world, "platform")
    assert_problem(await client.get("/v1/webhook", headers=platform.headers), 404)

    made = await client.put("/v1/webhook", json={"url": receiver.url}, headers=platform.headers)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    first = made.json()
    assert first["secret"].startswith("whsec_") and first["status"] == "active"

    shown = (await client.get("/v1/webhook", headers=platform.headers)).json()
    assert "secret" not in shown and shown["url"] == receiver.url
    assert first["secret"] not in (await client.get("/v1/webhook", headers=platform.headers)).text

    rotated = await client.post("/v1/webhook/rotate-secret", headers=platform.headers)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    assert rotated.json()["secret"] != first["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None

    assert (await client.delete("/v1/webhook", headers=platform.headers)).status_code == 204
    assert_problem(await client.get("/v1/webhook", headers=platform.headers), 404)
    assert_problem(await client.delete("/v1/webhook", headers=platform.headers), 404)
    assert await _audit_actions(app) == ["webhook.set", "webhook.secret_rotated", "webhook.deleted"]


async def test_audit_keeps_only_a_hash_of_the_url(app, world, client, receiver):
    platform = await party(world, "platform")
    url = receiver.url + "?token=receiver-secret"
    await client.put("/v1/webhook", json={"url": url}, headers=platform.headers)
    async with app.state.engine.connect() as conn:
        data = (
            await conn.execute(
                text("SELECT data::text FROM audit_entry WHERE action = 'webhook.set'")
            )
        ).scalar_one()
    assert "receiver-secret" not in data and "url_sha256" in data


async def test_a_private_url_is_refused_unless_allowed(app, world, client):
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": False})
    platform = await party(world, "platform")
    for url in (
        "http://127.0.0.1:9/h",
        "http://10.1.2.3/h",
        "http://[::1]/h",
        "http://169.254.169.254/",
    ):
        body = assert_problem(
            await client.put("/v1/webhook", json={"url": url}, headers=platform.headers), 422
        )
        assert body["errors"][0]["field"] == "url", body


async def test_an_observer_without_feed_read_gets_403(world, client):
    observer = await party(world, "observer")
    assert_problem(
        await client.put(
            "/v1/webhook", json={"url": "https://x.example"}, headers=observer.headers
        ),
        403,
    )


@pytest.mark.parametrize(
    ("url", "production", "reason"),
    [
        ("http://example.com/h", True, "https"),
        ("ftp://example.com/h", False, "http"),
        ("https://user:pw@example.com/h", False, "credentials"),
        ("https:///nohost", False, "host"),
    ],
)
def test_url_shapes_refused(url, production, reason):
    with pytest.raises(urls.UrlRefused, match=reason):
        urls.check_shape(url, production=production)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ],
)
async def test_private_addresses_refused_at_resolution(address):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(urls.UrlRefused, match="private"):
        await urls.resolve(f"https://{host}/h", production=True, allow_private=False)


async def test_delivery_connects_to_the_checked_address():
    target = await urls.resolve("http://localhost:8080/h?x=1", production=False, allow_private=True)
    assert target.host_header == "localhost:8080"
    assert target.pinned_url().startswith(
        ("http://127.0.0.1:8080/h?x=1", "http://[::1]:8080/h?x=1")
    )


async def test_a_name_that_does_not_resolve_is_registered_and_refused_at_delivery(
    app, world, client
):
    # RFC 6761: names under .invalid never resolve, on any machine.
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": False})
    agency = await party(world, "agency", country="SG")
    platform = await party(world, "platform", platform="unresolved")
    url = "https://hooks.example.invalid/flagbridge"
    made = await client.put("/v1/webhook", json={"url": url}, headers=platform.headers)
    assert made.status_code == 200, made.text
    assert made.json()["url"] == url
    refused = await client.put(
        "/v1/webhook", json={"url": "http://localhost:9/h"}, headers=platform.headers
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "url"

    flagged = await client.post("/v1/flags", json=flag_body("unresolved"), headers=agency.headers)
    assert flagged.status_code == 201, flagged.text
    assert await DeliveryWorker(app.state.sessionmaker, app.state.settings).run_once() == 1
    page = (await client.get("/v1/webhook/deliveries", headers=platform.headers)).json()
    (delivery,) = page["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_error"] == "URL refused: its host does not resolve"
    assert delivery["next_attempt_at"] is not None


async def test_delivery_refuses_a_name_that_does_not_resolve():
    with pytest.raises(urls.UrlRefused, match="does not resolve"):
        await urls.resolve("https://hooks.example.invalid/h", production=True, allow_private=False)
