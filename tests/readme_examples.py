"""Reading README.md's shell examples as tests: blocks, steps, expectations and matching.

An example is a ```sh block. Each block is split into steps (one shell command, with its
continuation lines and here-documents), and a step may be followed by an expectation
comment, written for a human and checked by tests/test_readme_examples.py:

    # → 201 {"status": "open", "due_at": "...", ...}

The number is the HTTP status of the step's (last) request; the JSON shows the fields
that must be there with these values. `...` stands for what is not shown: a value
(`"count": ...`), further members of an object (`, ...}`), further list items (`, ...]`),
or the rest of a string (`"eyJ..."`). Objects are always matched on the keys shown; a
list without `...` must have exactly the items shown. Without a status (`# → {...}`)
the JSON is the command's standard output (the `flagbridge ... --json` commands).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

ARROW = "# →"
SKIP_MARKER = "<!-- not run by tests/test_readme_examples.py"
ANY = "\x00any"
MORE = "\x00more"
_FENCE = re.compile(r"^```(\w*)\s*$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


@dataclass
class Block:
    """One fenced shell block of the README."""

    line: int  # 1-based line of its first command line
    text: str
    skipped: bool


@dataclass
class Step:
    """One command of an example and what the README says it answers."""

    line: int
    command: str
    expectation: str | None = None

    def expected(self) -> tuple[int | None, Any]:
        """The expected HTTP status (or None) and JSON (or None) of the annotation."""
        if self.expectation is None:
            return None, None
        return parse_expectation(self.expectation)


def sh_blocks(markdown: str) -> list[Block]:
    """The ```sh blocks, in order; a block right after the skip marker is marked skipped."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence and fence.group(1) == "sh":
            previous = next((p for p in reversed(lines[:i]) if p.strip()), "")
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            text = "\n".join(lines[i + 1 : end])
            blocks.append(Block(i + 2, text, previous.startswith(SKIP_MARKER)))
            i = end + 1
        else:
            i += 1
    return blocks


def _complete(command: str) -> bool:
    if command.rstrip().endswith("\\"):
        return False
    res = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
    return res.returncode == 0


def split_steps(block: Block) -> list[Step]:
    """The block's commands, each with the expectation comment that follows it."""
    lines = block.text.splitlines()
    steps: list[Step] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(ARROW):
            if not steps or steps[-1].expectation is not None:
                raise ValueError(f"README line {block.line + i}: an expectation without a command")
            text, i = _expectation_at(lines, i)
            steps[-1].expectation = text
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        start, command = i, [line]
        i += 1
        while True:
            heredoc = _HEREDOC.search(command[-1])
            if heredoc:
                delimiter = heredoc.group(2)
                while i < len(lines) and lines[i] != delimiter:
                    command.append(lines[i])
                    i += 1
                if i >= len(lines):
                    raise ValueError(f"README line {block.line + start}: no {delimiter} line")
                command.append(lines[i])
                i += 1
            if _complete("\n".join(command)):
                break
            if i >= len(lines):
                raise ValueError(f"README line {block.line + start}: an unfinished command")
            command.append(lines[i])
            i += 1
        steps.append(Step(block.line + start, "\n".join(command)))
    return steps


def _expectation_at(lines: list[str], i: int) -> tuple[str, int]:
    """The annotation starting at line i (continued on `#` lines while brackets are open)."""
    text = lines[i][len(ARROW) :].strip()
    i += 1
    while _depth(text) > 0 and i < len(lines) and lines[i].startswith("#"):
        text += " " + lines[i][1:].strip()
        i += 1
    return text, i


def _depth(text: str) -> int:
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return depth


def parse_expectation(text: str) -> tuple[int | None, Any]:
    """`201 {...}` -> (201, the JSON with `...` turned into markers); either part optional."""
    match = re.match(r"^(\d{3})?\s*(.*)$", text)
    assert match is not None
    status = int(match.group(1)) if match.group(1) else None
    rest = match.group(2).strip()
    if not rest:
        if status is None:
            raise ValueError(f"an empty expectation: {text!r}")
        return status, None
    if rest[0] not in "{[":
        raise ValueError(f"an expectation must be a status and/or JSON: {text!r}")
    return status, json.loads(_mark_ellipses(rest))


def _mark_ellipses(text: str) -> str:
    """Replace the bare `...` of an annotation by JSON the matcher understands."""
    out: list[str] = []
    i, in_string, escaped = 0, False, False
    while i < len(text):
        ch = text[i]
        if in_string:
            escaped = ch == "\\" and not escaped
            in_string = not (ch == '"' and not escaped)
            out.append(ch)
            i += 1
            continue
        if text.startswith("...", i):
            before = "".join(out).rstrip()
            after = text[i + 3 :].lstrip()
            if before.endswith(":"):
                out.append(json.dumps(ANY))
            elif after.startswith("}"):
                out = list(before[:-1] if before.endswith(",") else before)
            elif after.startswith("]"):
                out.append(json.dumps(MORE))
            else:
                raise ValueError(f"`...` must be a value or end an object or list: {text!r}")
            i += 3
            continue
        in_string = ch == '"'
        out.append(ch)
        i += 1
    return "".join(out)


def mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where actual differs from what the annotation shows (empty when it matches)."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += mismatches(value, actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        shown = expected[:-1] if expected and expected[-1] == MORE else expected
        if len(actual) < len(shown) or (shown is expected and len(actual) != len(shown)):
            return [f"{path}: expected {len(shown)} items, got {len(actual)}"]
        found = []
        for n, (want, got) in enumerate(zip(shown, actual, strict=False)):
            found += mismatches(want, got, f"{path}[{n}]")
        return found
    if isinstance(expected, str) and expected.endswith("..."):
        prefix = expected[:-3]
        if isinstance(actual, str) and actual.startswith(prefix):
            return []
        return [f"{path}: expected a string starting {prefix!r}, got {actual!r}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []
