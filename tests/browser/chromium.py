"""Find Debian's chromium and fonts for the page's scripts, installing them with apt-get
when they are missing."""

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


def _install(package: str, why: str) -> None:
    """`apt-get install -y package`, updating the package lists once if that fails."""
    if not shutil.which("apt-get"):
        raise ChromiumUnavailable(
            f"{why} and apt-get is not available: install the Debian package `{package}` "
            "or its equivalent"
        )
    if os.geteuid() != 0:
        raise ChromiumUnavailable(
            f"{why} and the tests are not running as root: run "
            f"`sudo apt-get install -y {package}` once"
        )
    result = _apt("install", "-y", package)
    if result.returncode != 0:
        # A fresh image has no package lists yet.
        update = _apt("update")
        result = _apt("install", "-y", package)
        if result.returncode != 0:
            raise ChromiumUnavailable(
                f"`apt-get install -y {package}` failed; the browser test needs it.\n"
                f"apt-get update said:\n{update.stdout[-1500:]}{update.stderr[-1500:]}\n"
                f"apt-get install said:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )


def ensure_chromium() -> str:
    """The path of `chromium`; installs the Debian package first when it is not there."""
    found = shutil.which("chromium")
    if found:
        return found
    _install("chromium", "chromium is not installed")
    found = shutil.which("chromium")
    if not found:
        raise ChromiumUnavailable("apt-get installed chromium but `chromium` is not on PATH")
    return found


SCRIPTS = {"th": "Thai", "my": "Myanmar"}
"""The page's languages whose script a basic system may have no font for."""


def _fonts_missing() -> list[str]:
    """The scripts fontconfig knows no font for (all of them when fc-list is missing)."""
    if not shutil.which("fc-list"):
        return list(SCRIPTS.values())
    missing = []
    for lang, script in SCRIPTS.items():
        listed = subprocess.run(
            ["fc-list", f":lang={lang}", "family"], capture_output=True, text=True, check=False
        )
        if not listed.stdout.strip():
            missing.append(script)
    return missing


def ensure_script_fonts() -> None:
    """Fonts for the Thai and Myanmar scripts; installs Debian's fonts-noto-core (which
    carries both) when fontconfig has none."""
    missing = _fonts_missing()
    if not missing:
        return
    _install("fonts-noto-core", f"no font for the {' and '.join(missing)} script")
    still = _fonts_missing()
    if still:
        raise ChromiumUnavailable(
            f"fonts-noto-core is installed but fontconfig has no {' or '.join(still)} font"
        )
