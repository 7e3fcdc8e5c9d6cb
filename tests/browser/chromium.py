"""Find Debian's chromium, installing it with apt-get when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# Several checkouts may run `make test` at once: wait for the dpkg lock instead of failing.
APT_LOCK = ["-o", "DPkg::Lock::Timeout=600"]


class ChromiumUnavailable(RuntimeError):
    """Chromium is missing and could not be installed; the message says why."""


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *APT_LOCK, *args],
        env={**os.environ, **APT_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def ensure_chromium() -> str:
    """The path of `chromium`; installs the Debian package first when it is not there."""
    found = shutil.which("chromium")
    if found:
        return found
    if not shutil.which("apt-get"):
        raise ChromiumUnavailable(
            "chromium is not installed and apt-get is not available: install Chromium "
            "(Debian package `chromium`) and put `chromium` on PATH"
        )
    if os.geteuid() != 0:
        raise ChromiumUnavailable(
            "chromium is not installed and the tests are not running as root: "
            "run `sudo apt-get install -y chromium` once"
        )
    result = _apt("install", "-y", "chromium")
    if result.returncode != 0:
        # A fresh image has no package lists yet.
        update = _apt("update")
        result = _apt("install", "-y", "chromium")
        if result.returncode != 0:
            raise ChromiumUnavailable(
                "`apt-get install -y chromium` failed; the browser test needs it.\n"
                f"apt-get update said:\n{update.stdout[-1500:]}{update.stderr[-1500:]}\n"
                f"apt-get install said:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    found = shutil.which("chromium")
    if not found:
        raise ChromiumUnavailable("apt-get installed chromium but `chromium` is not on PATH")
    return found
