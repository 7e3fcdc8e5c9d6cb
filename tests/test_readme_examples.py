"""README.md's examples are tests: each runs, in order, against a real server with the demo
world, and shows what that server answers.

One `flagbridge demo` and one `flagbridge serve` (subprocesses, a free port, a fresh
database) as `make run` makes them; then the demo's printed "Try it" commands and every
```sh block of the README run in one bash session (`set -euo pipefail`), in a folder whose
`var/` is the demo's data folder and whose `.venv` is this interpreter's, so the commands
are pasted exactly as written (only the base URL is the test server's). `curl` is wrapped
to record each request's status and body; the annotations (`# → 201 {...}`, see
tests/readme_examples.py) are then checked step by step.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import vocabulary
from tests.cli.test_cli import run_cli
from tests.conftest import PgServer, create_test_database, drop_test_database
from tests.readme_examples import (
    Block,
    Step,
    mismatches,
    parse_expectation,
    sh_blocks,
    split_steps,
)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BASE = "http://127.0.0.1:8000"
CURL = (
    'curl() { command curl -w "%{stderr}\\n::http_code=%{http_code}::\\n" "$@" '
    '| tee "$FB_STEP/body"; }'
)


@dataclass
class DemoServer:
    """The demo world served on a free port, and the folder the examples run in."""

    base_url: str
    work: Path
    env: dict[str, str]
    demo_output: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"flagbridge serve exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"flagbridge serve was not ready within 90 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo_server(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """`make run` on a free port: the demo world, then `flagbridge serve`."""
    venv_bin = Path(sys.prefix) / "bin"
    if not (venv_bin / "flagbridge").exists():
        pytest.fail(f"the README runs .venv/bin/flagbridge; {venv_bin}/flagbridge is missing")
    name = asyncio.run(create_test_database(pg_server, template_db))
    work = tmp_path_factory.mktemp("readme")
    (work / "var").mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_server.url(name),
        "FLAGBRIDGE_DATA_DIR": str(work / "var"),
        "FLAGBRIDGE_MIGRATIONS_DIR": str(ROOT / "alembic"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    demo = run_cli(["demo"], database_url=env["DATABASE_URL"], data_dir=work / "var", env=env)
    assert demo.returncode == 0, demo.stderr
    log = work / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv_bin / "flagbridge"), "serve", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, proc, log)
        yield DemoServer(base_url, work, env, demo.stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        asyncio.run(drop_test_database(pg_server, name))


def _readme_steps() -> list[Step]:
    blocks = [b for b in sh_blocks(README.read_text()) if not b.skipped]
    return [step for block in blocks for step in split_steps(block)]


def _demo_steps(demo_output: str) -> list[Step]:
    """The demo's printed "Try it" commands, as a user pastes them."""
    lines = demo_output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Try it"))
    commands = [
        line.strip()
        for line in lines[start + 1 :]
        if line.startswith("  ") and not line.strip().startswith("API docs")
    ]
    return split_steps(Block(0, "\n".join(commands), skipped=False))


@dataclass
class Ran:
    """What one step did: its requests' statuses, the last body, its output."""

    statuses: list[int]
    body: str
    out: str
    err: str


def _run(server: DemoServer, steps: list[Step]) -> tuple[int, int | None, list[Ran]]:
    """Run every step in one bash session; (exit code, failing step, per-step records)."""
    records = server.work / "steps"
    parts = ["set -euo pipefail", f"FB_STEPS={records}", CURL]
    for n, step in enumerate(steps):
        command = step.command.replace(BASE, server.base_url)
        parts += [
            f'FB_STEP=$FB_STEPS/{n}; mkdir -p "$FB_STEP"; : > "$FB_STEP/body"',
            f'echo {n} > "$FB_STEPS/current"',
            "{",
            command,
            '} > "$FB_STEP/out" 2> "$FB_STEP/err"',
        ]
    parts.append('echo done > "$FB_STEPS/current"')
    script = server.work / "examples.sh"
    script.write_text("\n".join(parts) + "\n")
    res = subprocess.run(
        ["bash", str(script)], env=server.env, cwd=server.work, capture_output=True, timeout=240
    )
    current = (records / "current").read_text().strip()
    ran = []
    for n in range(len(steps)):
        folder = records / str(n)
        if not folder.exists():
            break
        err = (folder / "err").read_text()
        statuses = [int(s) for s in re.findall(r"::http_code=(\d{3})::", err)]
        clean_err = re.sub(r"\n?::http_code=\d{3}::\n?", "", err)
        ran.append(
            Ran(statuses, (folder / "body").read_text(), (folder / "out").read_text(), clean_err)
        )
    return res.returncode, None if current == "done" else int(current), ran


def _describe(step: Step, ran: Ran | None, problem: str) -> str:
    where = f"README.md line {step.line}" if step.line else "the demo's printed walkthrough"
    text = [f"{where}: {problem}", "", step.command]
    if step.expectation:
        text.append(f"# → {step.expectation}")
    if ran is not None:
        text += ["", f"statuses: {ran.statuses}", f"body: {ran.body[:2000]}"]
        text += [f"stdout: {ran.out[:2000]}", f"stderr: {ran.err[:2000]}"]
    return "\n".join(text)


def _check(step: Step, ran: Ran, *, from_readme: bool) -> str | None:
    """Why the step's result differs from its annotation, or None."""
    status, shown = step.expected()
    if not from_readme:
        bad = [s for s in ran.statuses if not 200 <= s < 300]
        return f"expected success, got {bad}" if bad else None
    if ran.statuses and status is None:
        return "the README must show the status of each request: add `# → <status> ...`"
    if status is not None and not ran.statuses:
        return f"annotated with {status}, but made no request"
    if status is not None and ran.statuses[-1] != status:
        return f"expected {status}, got {ran.statuses[-1]}"
    if shown is None:
        return None
    source = ran.body if status is not None else ran.out
    try:
        actual = json.loads(source)
    except ValueError:
        return "expected JSON output"
    found = mismatches(shown, actual)
    return "; ".join(found) if found else None


def test_demo_walkthrough_then_every_readme_example_runs_as_shown(demo_server):
    demo = _demo_steps(demo_server.demo_output)
    readme = _readme_steps()
    assert len(readme) >= 30, "the README's examples were not found"
    steps = demo + readme
    rc, failed, ran = _run(demo_server, steps)
    for n, step in enumerate(steps):
        record = ran[n] if n < len(ran) else None
        if failed == n:
            pytest.fail(_describe(step, record, f"the command failed (exit {rc})"), pytrace=False)
        assert record is not None
        problem = _check(step, record, from_readme=n >= len(demo))
        if problem:
            pytest.fail(_describe(step, record, problem), pytrace=False)
    assert rc == 0 and failed is None


def test_pages_the_readme_links_open_without_a_token(demo_server):
    prose = re.sub(r"```.*?```", "", README.read_text(), flags=re.S)
    urls = sorted(set(re.findall(re.escape(BASE) + r"(/[\w./-]*)", prose)))
    assert "/docs" in urls and "/transparency" in urls, urls
    for path in urls:
        assert httpx.get(demo_server.base_url + path, timeout=10).status_code == 200, path


def test_the_demo_walkthrough_flags_another_account_than_the_readme(demo_server):
    handles = re.compile(r'"handle": "@?([\w.-]+)"')
    demo = set(handles.findall(demo_server.demo_output))
    readme = set(handles.findall(README.read_text()))
    assert demo and readme
    assert not demo & readme
    assert "O=$(" in demo_server.demo_output  # the observer's token, with the others


def test_only_the_setup_block_is_not_run():
    skipped = [b for b in sh_blocks(README.read_text()) if b.skipped]
    assert len(skipped) == 1 and "make run" in skipped[0].text


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("kind", vocabulary.FLAG_KINDS),
        ("category", vocabulary.CATEGORIES),
        ("priority", vocabulary.PRIORITIES),
        ("action", vocabulary.OUTCOME_ACTIONS),
        ("source", vocabulary.REPORT_SOURCES),
    ],
)
def test_the_readme_lists_every_allowed_value(field, values):
    line = next(
        (line for line in README.read_text().splitlines() if line.startswith(f"- `{field}`")),
        None,
    )
    assert line is not None, f"the README has no `- `{field}`: ...` list"
    listed = re.findall(r"`([a-z_]+)`", line.split(":", 1)[1])
    assert tuple(listed) == values


def test_an_annotation_reads_status_fields_and_ellipses():
    status, shown = parse_expectation(
        '201 {"id": "...", "scope": "ad...", "items": [{"n": ...}, ...], "meta": {...}, ...}'
    )
    assert status == 201
    actual = {"id": "x", "scope": "admin", "items": [{"n": 1}, {"n": 2}], "meta": {"a": 1}}
    assert mismatches(shown, actual) == []
    assert parse_expectation("204") == (204, None)
    assert parse_expectation('{"kind": "agency"}') == (None, {"kind": "agency"})


@pytest.mark.parametrize(
    ("annotation", "actual", "problem"),
    [
        ('{"status": "open"}', {"status": "held"}, "$.status: expected 'open', got 'held'"),
        ('{"status": "open"}', {}, "$.status: missing"),
        ('{"scope": "ad..."}', {"scope": "flags:read"}, "$.scope: expected a string starting"),
        ('{"items": [1, 2]}', {"items": [1, 2, 3]}, "$.items: expected 2 items, got 3"),
        ('{"items": [1, ...]}', {"items": []}, "$.items: expected 1 items, got 0"),
        ('{"n": 1}', {"n": True}, "$.n: expected 1, got True"),
        ('{"flag": {"x": ...}}', {"flag": None}, "$.flag: expected an object"),
    ],
)
def test_a_result_that_differs_from_its_annotation_is_reported(annotation, actual, problem):
    _, shown = parse_expectation(annotation)
    assert any(p.startswith(problem) for p in mismatches(shown, actual)), mismatches(shown, actual)


def test_steps_keep_continuations_heredocs_and_their_annotation_together():
    text = "\n".join(
        [
            "X=$(echo a \\",
            "     b)",
            "# → 200",
            "# a plain comment",
            "cat <<EOF",
            "{'one': 1",
            "EOF",
            '# → 201 {"a": [1,',
            "#    2]}",
            "echo 'two",
            "lines'",
        ]
    )
    steps = split_steps(Block(10, text, skipped=False))
    assert [s.line for s in steps] == [10, 14, 19]
    assert steps[0].expectation == "200" and steps[0].command.endswith("b)")
    assert steps[1].command.endswith("EOF") and steps[1].expected() == (201, {"a": [1, 2]})
    assert steps[2].expectation is None
    with pytest.raises(ValueError, match="an expectation without a command"):
        split_steps(Block(1, "# → 200", skipped=False))
