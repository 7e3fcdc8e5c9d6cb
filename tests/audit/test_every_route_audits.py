"""Every state-changing route writes the audit entries it should.

The test walks the application's route table: a new POST/PUT/PATCH/DELETE route without a
scenario here (or without an audit entry) fails the suite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.routing import APIRoute
from sqlalchemy import text

from app.audit import checkpoints
from app.audit.sealing import seal_pending
from app.audit.witnesses import cosign
from app.auth.keys import public_jwk
from tests.conftest import flag_body, party

EXEMPT = {("POST", "/oauth/token"): "issues a token; changes no state"}


async def audit_actions_since(app, seq: int) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_entry WHERE seq > :s ORDER BY seq"), {"s": seq}
        )
        return [r[0] for r in rows]


async def last_seq(app) -> int:
    async with app.state.engine.connect() as conn:
        return int(
            (await conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_entry"))).scalar()
        )


async def test_every_state_changing_route_is_audited(app, world, client):
    # The webhook scenarios register a loopback URL (never called: no worker runs here).
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": True})
    admin = await world.admin_headers()
    agency = await party(world, "agency", country="SG")
    platform = await party(world, "platform", platform="twitter")

    async def new_flag() -> str:
        return (
            await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
        ).json()["id"]

    async def asked_flag() -> str:
        fid = await new_flag()
        await client.post(
            f"/v1/flags/{fid}/request-info", json={"question": "?"}, headers=platform.headers
        )
        return fid

    async def hold_id() -> str:
        body = {
            "platform": "twitter",
            "account": {"handle": "audited"},
            "reason": "r",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        }
        return (await client.post("/v1/holds", json=body, headers=agency.headers)).json()["id"]

    relabelled = await party(world, "platform")

    async def client_id() -> str:
        return (await world.credentials("observer")).client_id

    # (method, path template) -> (make the request, the audit actions it must write)
    scenarios = {
        ("POST", "/v1/flags"): (
            lambda: client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers),
            ["flag.submitted"],
        ),
        ("POST", "/v1/flags/batch"): (
            lambda: client.post(
                "/v1/flags/batch", json={"flags": [flag_body("twitter")]}, headers=agency.headers
            ),
            ["flag.submitted"],
        ),
        ("POST", "/v1/flags/{flag_id}/withdraw"): (
            "withdraw",
            ["flag.withdrawn"],
        ),
        ("POST", "/v1/flags/{flag_id}/info"): ("info", ["flag.info_provided"]),
        ("POST", "/v1/flags/{flag_id}/ack"): ("ack", ["flag.acknowledged"]),
        ("POST", "/v1/flags/{flag_id}/request-info"): ("request-info", ["flag.info_requested"]),
        ("POST", "/v1/flags/{flag_id}/outcome"): ("outcome", ["flag.outcome_recorded"]),
        ("POST", "/v1/flags/{flag_id}/contest"): ("contest", ["flag.contested"]),
        ("POST", "/v1/outcomes/batch"): ("outcomes-batch", ["flag.acknowledged"]),
        ("POST", "/v1/holds"): ("hold", ["hold.created"]),
        ("DELETE", "/v1/holds/{hold_id}"): ("release", ["hold.released"]),
        ("POST", "/v1/holds/{hold_id}/renew"): ("renew", ["hold.renewed"]),
        ("POST", "/v1/admin/organizations"): (
            lambda: client.post(
                "/v1/admin/organizations",
                json={"kind": "observer", "name": "audited org"},
                headers=admin,
            ),
            ["organization.created"],
        ),
        ("PATCH", "/v1/admin/organizations/{org_id}"): (
            lambda: client.patch(
                f"/v1/admin/organizations/{relabelled.org_id}",
                json={"identity_profile": "telegram"},
                headers=admin,
            ),
            ["organization.updated"],
        ),
        ("PUT", "/v1/admin/organizations/{org_id}/rate-limits"): (
            lambda: client.put(
                f"/v1/admin/organizations/{relabelled.org_id}/rate-limits",
                json={"writes_per_minute": 100},
                headers=admin,
            ),
            ["organization.rate_limits_set"],
        ),
        ("POST", "/v1/admin/clients"): ("client", ["client.created"]),
        ("POST", "/v1/admin/clients/{client_id}/revoke"): ("revoke", ["client.revoked"]),
        ("PUT", "/v1/admin/deadline-policies/{country}/{kind}/{priority}"): (
            lambda: client.put(
                "/v1/admin/deadline-policies/SG/referral/urgent",
                json={"seconds": 600},
                headers=admin,
            ),
            ["deadline_policy.set"],
        ),
        ("DELETE", "/v1/admin/deadline-policies/{country}/{kind}/{priority}"): (
            "delete-policy",
            ["deadline_policy.deleted"],
        ),
        ("POST", "/v1/platform-reports"): ("platform-report", ["platform_report.replaced"]),
        ("PUT", "/v1/webhook"): (
            lambda: client.put(
                "/v1/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=platform.headers
            ),
            ["webhook.set"],
        ),
        ("POST", "/v1/webhook/rotate-secret"): (
            lambda: client.post("/v1/webhook/rotate-secret", headers=platform.headers),
            ["webhook.secret_rotated"],
        ),
        ("DELETE", "/v1/webhook"): (
            lambda: client.delete("/v1/webhook", headers=platform.headers),
            ["webhook.deleted"],
        ),
        ("PUT", "/v1/audit/witness-key"): ("witness-key", ["audit.witness_key_registered"]),
        ("POST", "/v1/audit/checkpoints/{seq}/cosign"): (
            "cosign",
            ["audit.checkpoint_cosigned"],
        ),
    }
    witness_key = ec.generate_private_key(ec.SECP256R1())
    witness_jwk = {**public_jwk(witness_key.public_key()), "kid": "ignored"}

    async def run(name: str):
        if name == "withdraw":
            fid = await new_flag()
            start = await last_seq(app)
            return start, await client.post(
                f"/v1/flags/{fid}/withdraw", json={"reason": "x"}, headers=agency.headers
            )
        if name == "info":
            fid = await asked_flag()
            start = await last_seq(app)
            return start, await client.post(
                f"/v1/flags/{fid}/info", json={"note": "n"}, headers=agency.headers
            )
        if name in ("ack", "request-info", "outcome", "outcomes-batch"):
            fid = await new_flag()
            start = await last_seq(app)
            if name == "ack":
                return start, await client.post(f"/v1/flags/{fid}/ack", headers=platform.headers)
            if name == "request-info":
                return start, await client.post(
                    f"/v1/flags/{fid}/request-info",
                    json={"question": "?"},
                    headers=platform.headers,
                )
            if name == "outcome":
                return start, await client.post(
                    f"/v1/flags/{fid}/outcome",
                    json={"action": "account_suspended"},
                    headers=platform.headers,
                )
            return start, await client.post(
                "/v1/outcomes/batch",
                json={"items": [{"flag_id": fid, "type": "ack"}]},
                headers=platform.headers,
            )
        if name == "contest":
            fid = await new_flag()
            closing = {"action": "no_violation"}
            await client.post(f"/v1/flags/{fid}/outcome", json=closing, headers=platform.headers)
            start = await last_seq(app)
            return start, await client.post(
                f"/v1/flags/{fid}/contest",
                json={"reason": "r", "evidence": [{"url": "https://e.example.gov/1"}]},
                headers=agency.headers,
            )
        if name == "hold":
            start = await last_seq(app)
            return start, await hold_id()
        if name == "release":
            hid = await hold_id()
            start = await last_seq(app)
            return start, await client.delete(f"/v1/holds/{hid}", headers=agency.headers)
        if name == "renew":
            hid = await hold_id()
            start = await last_seq(app)
            return start, await client.post(
                f"/v1/holds/{hid}/renew",
                json={"expires_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
                headers=agency.headers,
            )
        if name == "client":
            org = await world.org("observer")
            start = await last_seq(app)
            return start, await client.post(
                "/v1/admin/clients", json={"organization_id": org["id"], "name": "c"}, headers=admin
            )
        if name == "revoke":
            cid = await client_id()
            start = await last_seq(app)
            return start, await client.post(f"/v1/admin/clients/{cid}/revoke", headers=admin)
        if name == "platform-report":
            body = {
                "period_start": "2026-01-01",
                "period_end": "2026-02-01",
                "rows": [
                    {
                        "category": "propaganda",
                        "action": "account_suspended",
                        "count": 10,
                        "source": "own_detection",
                    }
                ],
            }
            before = await last_seq(app)
            first = await client.post("/v1/platform-reports", json=body, headers=platform.headers)
            assert first.status_code == 201, first.text
            assert "platform_report.submitted" in await audit_actions_since(app, before)
            start = await last_seq(app)
            body["rows"][0]["count"] = 11
            return start, await client.post(
                "/v1/platform-reports", json=body, headers=platform.headers
            )
        if name == "delete-policy":
            await client.put(
                "/v1/admin/deadline-policies/SG/referral/standard",
                json={"seconds": 600},
                headers=admin,
            )
            start = await last_seq(app)
            return start, await client.delete(
                "/v1/admin/deadline-policies/SG/referral/standard", headers=admin
            )
        if name == "witness-key":
            start = await last_seq(app)
            return start, await client.put(
                "/v1/audit/witness-key", json={"jwk": witness_jwk}, headers=agency.headers
            )
        if name == "cosign":
            await new_flag()
            await seal_pending(app.state.sessionmaker)
            cp = await checkpoints.create_if_due(
                app.state.sessionmaker,
                app.state.verifier.ring,
                min_interval=timedelta(0),
                force=True,
            )
            start = await last_seq(app)
            return start, await client.post(
                f"/v1/audit/checkpoints/{cp['seq']}/cosign",
                json={"signature": cosign(cp, witness_key)},
                headers=agency.headers,
            )
        raise AssertionError(name)

    changing = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method in {"POST", "PUT", "PATCH", "DELETE"} and not route.path.startswith("/test-")
    }
    missing = changing - set(scenarios) - set(EXEMPT)
    assert not missing, f"state-changing routes with no audit scenario: {sorted(missing)}"

    for key, (action, expected) in scenarios.items():
        if callable(action):
            start = await last_seq(app)
            resp = await action()
        else:
            start, resp = await run(action)
        if hasattr(resp, "status_code"):
            assert resp.status_code < 300, (key, resp.text)
        actions = await audit_actions_since(app, start)
        for wanted in expected:
            assert wanted in actions, (key, actions)
