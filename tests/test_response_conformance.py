"""The response checker that every `client` request goes through can fail, and does."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.openapi_check import ResponseChecker, ResponseMismatch

JSON = "application/json"
PROBLEM = "application/problem+json"


def _problem(status: int, **extra: Any) -> bytes:
    body = {"type": "urn:flagbridge:problem:x", "title": "X", "status": status, "detail": "x"}
    return json.dumps({**body, **extra}).encode()


def test_a_problem_the_document_describes_passes(response_checker: ResponseChecker):
    flag_id = str(uuid.uuid4())
    response_checker.check(
        "POST", "/v1/flags", 409, PROBLEM, _problem(409, existing_flag_id=flag_id)
    )


def test_a_body_missing_a_required_field_fails(response_checker: ResponseChecker):
    with pytest.raises(ResponseMismatch, match="'status' is a required property"):
        response_checker.check("GET", "/healthz", 200, JSON, b"{}")


def test_a_field_of_the_wrong_type_fails(response_checker: ResponseChecker):
    body = json.dumps({"items": [], "next_cursor": 12}).encode()
    with pytest.raises(ResponseMismatch, match="next_cursor"):
        response_checker.check("GET", "/v1/flags", 200, JSON, body)


def test_a_field_the_document_does_not_list_fails(response_checker: ResponseChecker):
    with pytest.raises(ResponseMismatch, match="'surprise' was unexpected"):
        response_checker.check(
            "GET", "/v1/flags/" + str(uuid.uuid4()), 404, PROBLEM, _problem(404, surprise=1)
        )


def test_a_malformed_format_fails(response_checker: ResponseChecker):
    with pytest.raises(ResponseMismatch, match="existing_flag_id"):
        response_checker.check(
            "POST", "/v1/flags", 409, PROBLEM, _problem(409, existing_flag_id="not-a-uuid")
        )


def test_a_malformed_timestamp_fails(response_checker: ResponseChecker):
    checkpoint = {"seq": 1, "head_hash": "00", "kid": "k", "signature": "s"}
    body = json.dumps(
        {"items": [{**checkpoint, "signed_at": "yesterday"}], "next_cursor": None}
    ).encode()
    with pytest.raises(ResponseMismatch, match="date-time"):
        response_checker.check("GET", "/v1/audit/checkpoints", 200, JSON, body)


def test_an_undocumented_status_fails(response_checker: ResponseChecker):
    with pytest.raises(ResponseMismatch, match="status 418 is not documented"):
        response_checker.check("GET", "/v1/flags", 418, PROBLEM, _problem(418))


def test_an_undocumented_content_type_fails(response_checker: ResponseChecker):
    with pytest.raises(ResponseMismatch, match="content type not documented"):
        response_checker.check("GET", "/v1/stats/outcomes.csv", 200, "text/html", b"<p>")


def test_a_non_json_body_of_a_documented_type_passes(response_checker: ResponseChecker):
    response_checker.check("GET", "/v1/stats/outcomes.csv", 200, "text/csv; charset=utf-8", b"a")


def test_an_unknown_route_must_answer_with_a_problem(response_checker: ResponseChecker):
    response_checker.check("GET", "/nowhere", 404, PROBLEM, _problem(404))
    with pytest.raises(ResponseMismatch, match="no documented operation"):
        response_checker.check("GET", "/nowhere", 200, JSON, b"{}")


def test_literal_templates_win_over_parameters():
    checker = ResponseChecker(
        {
            "paths": {
                "/r/{id}": {"get": {"responses": {"200": {"description": "x"}}}},
                "/r/special": {"get": {"responses": {"204": {"description": "x"}}}},
            }
        }
    )
    checker.check("GET", "/r/special", 204, "", b"")
    checker.check("GET", "/r/other", 200, "", b"")
    with pytest.raises(ResponseMismatch, match="documented without a body"):
        checker.check("GET", "/r/other", 200, JSON, b"{}")


async def test_the_shared_client_fails_a_test_on_a_response_off_the_document(
    app: Any, client: httpx.AsyncClient
):
    async def broken_health() -> dict[str, str]:
        return {"status": "dead"}

    # Shadow the real route: the body now breaks the documented enum.
    app.router.routes.insert(0, APIRoute("/healthz", broken_health, methods=["GET"]))
    with pytest.raises(ResponseMismatch, match="healthz"):
        await client.get("/healthz")
