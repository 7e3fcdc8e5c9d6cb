"""The committed OpenAPI document matches the code."""

from __future__ import annotations

import json
from pathlib import Path

from app.main import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_openapi_file_is_in_sync_with_the_code():
    generated = create_app().openapi()
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == generated, "run `make openapi` and commit openapi/openapi.json"


def test_openapi_describes_security_and_problem_errors():
    spec = create_app().openapi()
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    op = spec["paths"]["/v1/admin/organizations"]["post"]
    assert op["security"] == [{"oauth2": ["admin"]}]
    for code in ("401", "403", "422"):
        assert "application/problem+json" in op["responses"][code]["content"]
    assert "Problem" in spec["components"]["schemas"]
