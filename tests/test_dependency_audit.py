"""`make lint`'s pip-audit step: a vulnerability fails, an unreachable service warns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "tools" / "audit_dependencies.py"
spec = importlib.util.spec_from_file_location("audit_dependencies", PATH)
assert spec is not None and spec.loader is not None
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

CLEAN = {"name": "fastapi", "version": "0.115.0", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}],
}
UNKNOWN = {
    "name": "asyncpg",
    "skip_reason": "Dependency not found on PyPI and could not be audited",
}
EDITABLE = {"name": "flagbridge", "skip_reason": "distribution marked as editable"}


def test_a_known_vulnerability_fails_and_names_the_fix():
    code, message = tool.verdict({"dependencies": [CLEAN, VULNERABLE]}, "")
    assert code == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in message


def test_all_checked_and_clean_passes_quietly():
    code, message = tool.verdict({"dependencies": [CLEAN, EDITABLE]}, "")
    assert code == 0 and "WARNING" not in message and "1 packages" in message


def test_packages_the_service_does_not_know_pass_with_a_warning_naming_them():
    code, message = tool.verdict({"dependencies": [CLEAN, UNKNOWN, EDITABLE]}, "")
    assert code == 0 and message.startswith("WARNING") and "asyncpg" in message
    assert "flagbridge" not in message


@pytest.mark.parametrize(
    "stderr",
    [
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev') "
        "Max retries exceeded (Caused by NameResolutionError(...))",
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='pypi.org'): Read timed out",
    ],
)
def test_an_unreachable_service_warns_and_passes(stderr):
    code, message = tool.verdict(None, stderr)
    assert code == 0 and "NOT checked" in message


def test_any_other_failure_of_the_tool_fails():
    code, message = tool.verdict(None, "pip-audit: error: unrecognized arguments: --bogus")
    assert code == 1 and "unrecognized arguments" in message
