"""Metrics are private: 404 on the API's port, served by their own listener."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import httpx
import pytest

from app.ops import metrics_listener
from tests.conftest import flag_body, party


@pytest.fixture
def scrape():
    """Start a listener on an ephemeral loopback port; yield a function that scrapes it."""
    listener = metrics_listener.start("127.0.0.1:0")
    assert listener is not None
    host, port = listener.address

    async def get() -> httpx.Response:
        async with httpx.AsyncClient() as c:
            return await c.get(f"http://{host}:{port}/metrics")

    yield get
    listener.stop()


async def test_public_metrics_route_is_404(client, app):
    resp = await client.get("/metrics")
    assert resp.status_code == 404
    assert "/metrics" not in app.openapi()["paths"]


async def test_listener_counts_requests_by_route_template(world, client, scrape):
    headers = await world.admin_headers()
    await client.get("/v1/admin/organizations", headers=headers)
    resp = await scrape()
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert (
        'flagbridge_http_requests_total{method="GET",route="/v1/admin/organizations",status="200"}'
        in resp.text
    )
    assert "flagbridge_http_request_duration_seconds_bucket" in resp.text


async def test_listener_counts_submissions_and_transitions(world, client, scrape):
    agency = await party(world, "agency")
    platform = await party(world, "platform", platform="twitter")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform.headers)
    await client.get("/v1/feed", headers=platform.headers)
    body = (await scrape()).text
    assert 'flagbridge_flag_submissions_total{result="201"}' in body
    assert 'flagbridge_flag_transitions_total{event="acknowledged"}' in body
    assert 'flagbridge_feed_events_served_total{kind="platform"}' in body


@pytest.mark.parametrize("value", ["", "off", "OFF", " none "])
def test_bind_can_be_switched_off(value):
    assert metrics_listener.start(value) is None


@pytest.mark.parametrize("value", ["9108", "localhost:", ":9108", "host:99999", "a:b"])
def test_bad_bind_is_refused(value):
    with pytest.raises(metrics_listener.BadBind):
        metrics_listener.parse_bind(value)


def test_ipv6_bind_is_parsed():
    assert metrics_listener.parse_bind("[::1]:9108") == ("::1", 9108)


# Two worker processes count into PROMETHEUS_MULTIPROC_DIR (as `serve --workers 2` sets
# it); the one listener of the parent process serves their sum.
_WORKERS = textwrap.dedent(
    """
    import multiprocessing, sys, httpx

    def work(n):
        from app.observability import FLAG_SUBMISSIONS
        FLAG_SUBMISSIONS.labels(result="201").inc(n)

    if __name__ == "__main__":
        ctx = multiprocessing.get_context("spawn")
        for n in (3, 4):
            p = ctx.Process(target=work, args=(n,))
            p.start()
            p.join()
        from app.ops import metrics_listener
        listener = metrics_listener.start("127.0.0.1:0")
        host, port = listener.address
        sys.stdout.write(httpx.get(f"http://{host}:{port}/metrics").text)
    """
)


def test_one_listener_sums_every_worker(tmp_path):
    script = tmp_path / "workers.py"
    script.write_text(_WORKERS)
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)}
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert 'flagbridge_flag_submissions_total{result="201"} 7.0' in out
