"""A wrong method on a documented resource is 405 listing every method the resource has."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import assert_problem


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        # Two routes (GET and POST) make one resource: Allow names both.
        ("OPTIONS", "/v1/flags", "GET, POST"),
        ("DELETE", "/v1/admin/clients", "GET, POST"),
        # A concrete path wins over a template that also matches it (OpenAPI's rule), so
        # this is a wrong method on the batch route, not a malformed flag id.
        ("GET", "/v1/flags/batch", "POST"),
        ("PUT", f"/v1/holds/{uuid.uuid4()}", "DELETE, GET"),
    ],
)
async def test_wrong_method_answers_405_with_every_documented_method(
    client, method: str, path: str, allow: str
) -> None:
    resp = await client.request(method, path)
    assert_problem(resp, 405)
    assert resp.headers["allow"] == allow


async def test_a_flag_id_that_is_not_a_uuid_is_still_a_validation_error(world, client) -> None:
    headers = await world.headers("agency")
    assert_problem(await client.get("/v1/flags/not-a-uuid", headers=headers), 422)
