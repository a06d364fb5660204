"""Headless Chromium for the browser tests: one way to start it, and the console lines it logs.

The tests skip when Debian's ``chromium`` is not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Quiet and offline by default: no first-run pages, updates or sync; log to stderr, where the
# page's console messages appear.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--enable-logging=stderr", "--v=0", "--hide-scrollbars")


def run_chromium(page: Path, profile: Path, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
    """Open ``page`` (a file) in headless Chromium with its own profile folder and ``flags``."""
    cmd = [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert res.returncode == 0, res.stderr[-2000:]
    return res


def console_lines(stderr: str) -> list[str]:
    """The page's console messages among Chromium's log lines."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "CONSOLE(" in line]
