"""`POST /oauth/token` with a JSON body: a clear RFC 6749 invalid_request, not a puzzle."""

from __future__ import annotations


async def test_json_body_is_told_that_form_encoding_is_required(world, client):
    creds = await world.credentials("observer")
    body = {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }
    resp = await client.post("/oauth/token", json=body)
    assert resp.status_code == 400, resp.text
    problem = resp.json()
    assert problem["error"] == "invalid_request"
    assert "form-encoded" in problem["error_description"]
    assert "application/x-www-form-urlencoded" in problem["error_description"]
    # The same fields as a form are accepted.
    assert (await client.post("/oauth/token", data=body)).status_code == 200


async def test_form_without_grant_type_still_names_the_missing_field(client):
    resp = await client.post("/oauth/token", data={"client_id": "x"})
    assert resp.status_code == 400
    assert resp.json()["error_description"] == "grant_type is required"
