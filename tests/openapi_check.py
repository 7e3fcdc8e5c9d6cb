"""Check real responses against the OpenAPI document: status, content type and JSON body.

Every response the shared test client receives goes through `ResponseChecker.check`, so the
published document is held to what every scenario of the suite really sends, including the
bodies rendered in SQL that never pass through a Pydantic model.

A request is matched to its operation the way a client reads the document: method plus the
path against the path templates (literal templates win over ones with parameters). A status
the operation does not list is a mismatch, so is a content type it does not list for that
status. JSON bodies (`application/json`, `application/problem+json`) are validated with
jsonschema (draft 2020-12, as OpenAPI 3.1 specifies) including formats (`uuid`,
`date-time`); other bodies (CSV, HTML, metrics text) are only checked for their content type.
Requests to paths or methods the document does not have (probes of 404 and 405) must answer
with a problem document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

JSON_TYPES = frozenset({"application/json", "application/problem+json"})
# FastAPI's own pages about the document, which the document does not describe.
UNDOCUMENTED_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PARAM = re.compile(r"\{[^/{}]+\}")


class ResponseMismatch(AssertionError):
    """A response that the OpenAPI document does not describe."""


@dataclass(frozen=True)
class _Route:
    template: str
    pattern: re.Pattern[str]
    operations: dict[str, Any]


def _closed(schema: Any) -> Any:
    """A copy of schema where every object that lists its properties allows no others.

    Pydantic documents its models as open objects, so a field sent but never documented
    (a column added to an SQL rendering, say) would pass unnoticed. Closing them makes the
    document the complete description of what is sent; `dict[str, Any]` fields, documented
    with `additionalProperties: true`, stay open on purpose.
    """
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _compile_template(template: str) -> re.Pattern[str]:
    """`/v1/flags/{flag_id}/ack` -> a regex matching one path segment per parameter."""
    parts = _PARAM.split(template)
    regex = "[^/]+".join(re.escape(part) for part in parts)
    return re.compile(f"^{regex}$")


class ResponseChecker:
    """Validators for every documented response, compiled lazily and kept for the session."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._components = _closed(document.get("components", {}))
        routes = [
            _Route(template, _compile_template(template), operations)
            for template, operations in document.get("paths", {}).items()
        ]
        # Literal templates first (`/v1/stats/outcomes.csv` before any `{param}` sibling).
        routes.sort(key=lambda r: len(_PARAM.findall(r.template)))
        self._routes = routes
        self._validators: dict[tuple[str, str, str, str], Draft202012Validator] = {}

    def _route(self, path: str) -> _Route | None:
        for route in self._routes:
            if route.pattern.match(path):
                return route
        return None

    def _validator(self, key: tuple[str, str, str, str], schema: Any) -> Draft202012Validator:
        validator = self._validators.get(key)
        if validator is None:
            # The component schemas ride along so `#/components/...` resolves from this root.
            root = {**_closed(schema), "components": self._components}
            Draft202012Validator.check_schema(root)
            validator = Draft202012Validator(
                root, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            self._validators[key] = validator
        return validator

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        """Raise ResponseMismatch unless the document describes this response."""
        method = method.lower()
        media_type = content_type.split(";", 1)[0].strip().lower()
        where = f"{method.upper()} {path} -> {status} {media_type or '(no content type)'}"
        route = self._route(path)
        operation = route.operations.get(method) if route else None
        if route is None or operation is None:
            if path in UNDOCUMENTED_PATHS:
                return
            # Not an operation of the document (an unknown path or method, or a route a test
            # mounted to provoke an error): only a problem document is an acceptable answer.
            if status < 400 or media_type != "application/problem+json":
                raise ResponseMismatch(f"{where}: no documented operation answers this")
            self._validate(("*", "*", "problem", media_type), PROBLEM_REF, body, where)
            return
        responses = operation.get("responses", {})
        described = responses.get(str(status)) or responses.get("default")
        if described is None:
            raise ResponseMismatch(
                f"{where}: status {status} is not documented for {route.template} "
                f"(documented: {', '.join(sorted(responses))})"
            )
        content = described.get("content") or {}
        if not content:
            if body:
                raise ResponseMismatch(f"{where}: documented without a body, but one was sent")
            return
        if media_type not in content:
            raise ResponseMismatch(
                f"{where}: content type not documented (documented: {', '.join(content)})"
            )
        if media_type not in JSON_TYPES or method == "head":
            return
        schema = content[media_type].get("schema")
        if schema is None:
            return
        key = (method, route.template, str(status), media_type)
        self._validate(key, schema, body, where)

    def _validate(
        self, key: tuple[str, str, str, str], schema: Any, body: bytes, where: str
    ) -> None:
        try:
            instance = json.loads(body)
        except ValueError as exc:
            raise ResponseMismatch(f"{where}: body is not JSON ({exc})") from None
        error = best_match(self._validator(key, schema).iter_errors(instance))
        if error is not None:
            location = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise ResponseMismatch(
                f"{where}: body does not match its schema at {location}: {error.message}"
            )

    async def check_response(self, response: httpx.Response) -> None:
        """The httpx response hook: read the body and check the response."""
        await response.aread()
        request = response.request
        self.check(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
