"""`make lint`'s dependency audit: pip-audit over the installed environment.

Fails on a known vulnerability. Tolerates being offline: when the vulnerability service
cannot be reached, or knows none of the installed versions, it prints a clear warning and
passes, because a lint run must not depend on a third-party service being up. Packages it
could not look up are counted in the warning, so "nothing found" never hides "nothing
checked".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# What pip-audit's traceback says when the service cannot be reached at all.
OFFLINE_SIGNS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "Timeout")


def verdict(report: dict[str, Any] | None, stderr: str) -> tuple[int, str]:
    """The exit status and message for pip-audit's JSON report (None: it wrote none)."""
    if report is None:
        if any(sign in stderr for sign in OFFLINE_SIGNS):
            return 0, (
                "WARNING: pip-audit could not reach its vulnerability service; the installed "
                "packages were NOT checked for known vulnerabilities (run `make lint` online)."
            )
        return 1, "pip-audit failed:\n" + stderr[-2000:]
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    if vulnerable:
        lines = [
            f"  {d['name']} {d['version']}: {v['id']} "
            f"(fixed in {', '.join(v['fix_versions']) or 'no release yet'})"
            for d in vulnerable
            for v in d["vulns"]
        ]
        return 1, "Known vulnerabilities in installed packages:\n" + "\n".join(lines)
    checked = sum("vulns" in d for d in deps)
    unknown = [d["name"] for d in deps if "skip_reason" in d and "editable" not in d["skip_reason"]]
    if not unknown:
        return 0, f"pip-audit: no known vulnerabilities in {checked} packages."
    return 0, (
        f"WARNING: pip-audit checked {checked} packages; {len(unknown)} could not be looked up "
        f"(the vulnerability service does not know these versions or could not be reached): "
        + ", ".join(unknown[:10])
        + (" ..." if len(unknown) > 10 else "")
    )


def main() -> int:
    """Run pip-audit on this interpreter's environment and judge its report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        run = subprocess.run(  # noqa: S603 (a fixed command line)
            [
                *(sys.executable, "-m", "pip_audit"),
                *("--local", "--skip-editable", "--progress-spinner", "off"),
                *("--timeout", "15", "--format", "json", "--output", str(out)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(out.read_text()) if out.exists() else None
    code, message = verdict(report, run.stderr)
    print(message, file=sys.stderr if code or message.startswith("WARNING") else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
