"""Evidence on private, loopback or link-local hosts is marked for the platform."""

from __future__ import annotations

import pytest

from app.kit.addresses import is_private_host
from tests.conftest import flag_body, party

PUBLIC = "https://evidence.example.gov/case/1/capture.png"
PRIVATE = [
    "http://10.20.30.40/share/capture.png",
    "http://192.168.1.5:8080/x",
    "http://127.0.0.1/x",
    "http://[::1]/x",
    "http://[fe80::1]/x",
    "http://[fd12:3456::1]/x",
    "http://169.254.169.254/latest/meta-data",
    "http://localhost:3000/x",
    "https://files.corp.internal/x",
    "http://printer.local/x",
    "http://2130706433/x",
]


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("example.com", False),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("evidence.localhost.example.com", False),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("::ffff:192.168.0.1", True),
        ("0x7f.1", True),
        ("LOCALHOST.", True),
        ("a.b.home.arpa", True),
        (None, False),
    ],
)
def test_host_classification(host, private):
    assert is_private_host(host) is private


async def test_platform_sees_private_evidence_marked(world, client):
    agency = await party(world, "agency")
    platform = await party(world, "platform", platform="twitter")
    evidence = [{"url": PUBLIC}] + [{"url": u} for u in PRIVATE]
    resp = await client.post(
        "/v1/flags", json=flag_body("twitter", evidence=evidence), headers=agency.headers
    )
    assert resp.status_code == 201
    seen = (await client.get(f"/v1/flags/{resp.json()['id']}", headers=platform.headers)).json()
    marks = [item["private_host"] for item in seen["evidence"]]
    assert marks == [False] + [True] * len(PRIVATE)


async def test_evidence_added_in_an_answer_is_marked(world, client):
    agency = await party(world, "agency")
    platform = await party(world, "platform", platform="twitter")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(
        f"/v1/flags/{flag['id']}/request-info", json={"question": "?"}, headers=platform.headers
    )
    resp = await client.post(
        f"/v1/flags/{flag['id']}/info",
        json={"note": "here", "evidence": [{"url": "http://10.1.1.1/more"}]},
        headers=agency.headers,
    )
    assert resp.status_code == 200
    seen = (await client.get(f"/v1/flags/{flag['id']}", headers=platform.headers)).json()
    assert [e["private_host"] for e in seen["evidence"]] == [False, True]
