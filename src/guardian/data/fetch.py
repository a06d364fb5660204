"""Fetching police.uk monthly archives for users with internet.

police.uk publishes one zip per month (``<base>/<YYYY-MM>.zip``) holding the street, outcomes
and stop-and-search files of every force for the previous 36 months, laid out as
``YYYY-MM/YYYY-MM-<force>-street.csv``. Guardian downloads the archive of the latest month
asked for (and earlier archives only when the range is longer than one archive covers), keeps
just the chosen force's files under ``GUARDIAN_HOME/downloads`` and loads them with the same
code path as local files. ``base_url`` points anywhere (tests use a local HTTP server).
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from guardian.data.months import month_range, parse_month
from guardian.errors import InputError

DEFAULT_BASE_URL = "https://data.police.uk/data/archive"
ARCHIVE_SPAN_MONTHS = 36


def months_between(first: str, last: str) -> list[str]:
    """Inclusive list of ``YYYY-MM`` months; raises InputError on bad or reversed input."""
    parse_month(first, "--from")
    parse_month(last, "--to")
    if last < first:
        raise InputError(f"--from {first} is after --to {last}")
    return month_range(first, last)


def force_slug(force: str) -> str:
    """police.uk file-name slug: ``"Essex Police" -> "essex"``, ``"avon and somerset"`` ->
    ``"avon-and-somerset"``."""
    s = force.strip().lower()
    for suffix in (" police service", " constabulary", " police"):
        if s.endswith(suffix) and s != "metropolitan police":
            s = s[: -len(suffix)]
    return s.replace(" ", "-")


def fetch_police_uk(
    force: str,
    first: str,
    last: str,
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Download police.uk street and outcomes files of ``force`` for months ``first..last``.

    Returns the extracted CSV paths (``dest/YYYY-MM/YYYY-MM-<force>-street.csv``), ready for
    :func:`guardian.store.ingest.ingest`. Raises :class:`InputError` when the server cannot be
    reached or an archive lacks a month asked for.
    """
    wanted = months_between(first, last)
    slug = force_slug(force)
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    remaining = list(wanted)
    while remaining:
        archive_month = remaining[-1]
        url = f"{base_url.rstrip('/')}/{archive_month}.zip"
        zpath = dest / f"{archive_month}.zip.part"
        if progress:
            progress(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(zpath, "wb") as fh:
                shutil.copyfileobj(resp, fh, length=1 << 20)
        except (urllib.error.URLError, OSError) as exc:
            zpath.unlink(missing_ok=True)
            raise InputError(f"could not download {url}: {exc}") from exc
        covered = []
        try:
            with zipfile.ZipFile(zpath) as zf:
                names = set(zf.namelist())
                for m in remaining:
                    got = False
                    for kind in ("street", "outcomes"):
                        member = f"{m}/{m}-{slug}-{kind}.csv"
                        if member in names:
                            target = dest / member
                            target.parent.mkdir(parents=True, exist_ok=True)
                            with zf.open(member) as src, open(target, "wb") as fh:
                                shutil.copyfileobj(src, fh)
                            out.append(target)
                            got = got or kind == "street"
                    if got:
                        covered.append(m)
        except zipfile.BadZipFile as exc:
            raise InputError(f"{url} is not a zip archive: {exc}") from exc
        finally:
            zpath.unlink(missing_ok=True)
        if not covered:
            raise InputError(f"{url} holds no {slug} street file for {remaining[0]}..{remaining[-1]}"
                             f"; check the force name (file names look like 2021-12-{slug}-street.csv)")
        remaining = [m for m in remaining if m not in covered and m < min(covered)]
    return sorted(out)
