"""The briefing HTML in a real browser: headless Chromium renders it, takes a screenshot and
reports no console message at all (the page has no script; any message is a fault).

Skipped when Debian's ``chromium`` is not installed (``apt-get install -y chromium``)."""

from __future__ import annotations

import struct
from pathlib import Path

import pandas as pd
import pytest

from conftest import ESSEX
from guardian.reports.context import context_from_frames, sources_from_files
from guardian.reports.render import write_briefing
from headless import CHROMIUM, console_lines, run_chromium

pytestmark = pytest.mark.browser

def screenshot(
    page: Path, png: Path, profile: Path, *, width: int = 1100, height: int = 2400
) -> list[str]:
    """Render ``page`` with headless Chromium into ``png``; return the console lines it logged."""
    res = run_chromium(page, profile, f"--window-size={width},{height}", f"--screenshot={png}")
    return console_lines(res.stderr)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_console_capture_catches_errors(tmp_path):
    """The check itself works: a page that logs an error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    lines = screenshot(bad, tmp_path / "bad.png", tmp_path / "profile", height=300)
    assert any("boom" in line for line in lines)
    assert any("ReferenceError" in line for line in lines)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_briefing_renders_in_chromium_without_console_errors(tmp_path):
    from guardian.data.policeuk import read_street

    files = [ESSEX / "2021-11-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz"]
    ev = pd.concat([read_street(f) for f in files], ignore_index=True)
    ctx = context_from_frames(
        ev, force="Essex Police", month="2021-12", sources=sources_from_files(files)
    )
    paths = write_briefing(ctx, tmp_path / "out", pdf=False)
    png = tmp_path / "briefing.png"
    lines = screenshot(paths["html"], png, tmp_path / "profile")
    assert lines == [], "console messages:\n" + "\n".join(lines)
    w, h = png_size(png)
    assert (w, h) == (1100, 2400)
    # a blank page compresses to almost nothing; a rendered briefing with charts does not
    assert png.stat().st_size > 100_000
