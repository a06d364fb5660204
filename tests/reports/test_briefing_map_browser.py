"""The interactive briefing map in a real browser: headless Chromium opens ``briefing_map.html``
from disk with no network, runs Leaflet (inlined from the npm package), draws the layers on the
plain background and logs no console message; the screenshot is kept for a person to look at.

Skipped when Debian's ``chromium`` is not installed, or when Leaflet has not been installed
from the npm registry (``npm ci`` at the repository root)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import ESSEX
from guardian.reports.context import context_from_frames
from guardian.reports.interactive import leaflet_dir, render_map_html
from guardian.reports.render import write_briefing
from headless import CHROMIUM, console_lines, run_chromium

pytestmark = pytest.mark.browser

needs_leaflet = pytest.mark.skipif(
    leaflet_dir() is None, reason="Leaflet not installed: run `npm ci` in the repository"
)


def _briefing_dir(tmp_path: Path) -> dict:
    from guardian.data.policeuk import read_street

    files = [ESSEX / f"2021-{m:02d}-essex-street.csv.gz" for m in range(7, 13)]
    ev = pd.concat([read_street(f) for f in files], ignore_index=True)
    ctx = context_from_frames(ev, force="Essex Police", month="2021-12")
    return write_briefing(ctx, tmp_path / "out", pdf=False)


# No network at all: any request for a tile or a script fails and logs an error.
_OFFLINE = ("--virtual-time-budget=3000", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def _shoot(page: Path, png: Path, profile: Path, *, width=1200, height=900) -> tuple[list, str]:
    res = run_chromium(page, profile, f"--window-size={width},{height}", *_OFFLINE,
                       f"--screenshot={png}")
    return console_lines(res.stderr), res.stderr


def _dump_dom(page: Path, profile: Path) -> str:
    return run_chromium(page, profile, *_OFFLINE, "--dump-dom", check=False).stdout


@needs_leaflet
def test_map_page_is_self_contained(tmp_path):
    paths = _briefing_dir(tmp_path)
    html = paths["map"].read_text()
    assert "url(images/" not in html  # Leaflet's images inlined as data URIs
    assert "sourceMappingURL" not in html
    # the only remote address the page knows is the optional tile layer (and its attribution)
    urls = set(re.findall(r"https?://[^\s'\"<>)]+", html))
    allowed = (
        "https://tile.openstreetmap.org/",
        "https://www.openstreetmap.org/copyright",
        "https://leafletjs.com",
        "http://www.w3.org/2000/svg",
    )
    bad = [u for u in urls if not u.startswith(allowed)]
    assert not bad, bad
    assert "<script src=" not in html and "<link rel='stylesheet'" not in html


def test_map_page_without_leaflet_says_how_to_install(monkeypatch, tmp_path):
    import guardian.reports.interactive as inter

    monkeypatch.setattr(inter, "leaflet_dir", lambda: None)
    b = {"meta": {"force": "Essex Police", "month": "2021-12"}, "sections": {}}
    html = render_map_html(b)
    assert "npm ci" in html and "<script" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@needs_leaflet
def test_map_renders_offline_without_console_errors(tmp_path):
    paths = _briefing_dir(tmp_path)
    png = tmp_path / "briefing_map.png"
    lines, _ = _shoot(paths["map"], png, tmp_path / "profile")
    assert lines == [], "console messages:\n" + "\n".join(lines)
    assert png.stat().st_size > 40_000  # a drawn map, not a blank page
    dom = _dump_dom(paths["map"], tmp_path / "profile2")
    assert 'data-ready="1"' in dom  # the script ran to the end
    assert dom.count('class="leaflet-tooltip rank') == 20  # the 20 spots, numbered
    assert "Plain background (offline)" in dom
    keep = os.environ.get("GUARDIAN_KEEP_SCREENSHOTS")  # a folder to keep the PNG in, if asked
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "briefing_map.png")
