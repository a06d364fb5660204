"""Render docs/reliability.md from the fault suite's results, so the table stays true.

Each case of ``tests/faults`` writes one JSON record per store when ``GUARDIAN_FAULTS_RESULTS``
names a folder, after its assertions have passed (known gaps, marked ``xfail``, write theirs
before the assertion that shows them). This script merges the records per case and writes the
markdown table.

Usage::

    # run the suite (SQLite, and PostgreSQL when GUARDIAN_TEST_POSTGRES_URL is set), then render
    python scripts/reliability_table.py --run
    # or render results a previous run left in a folder
    python scripts/reliability_table.py --results /tmp/faults-results
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "reliability.md"

INTRO = """# Reliability: Guardian under bad input and faults

Every row below is a test in `tests/faults/`, run on real police.uk rows (the bundled Essex
files) or minimally edited copies, on SQLite and PostgreSQL where a store is involved. A case is
listed only if its test passed; *rows lost* is the file's own record count (read independently
with Python's `csv` module) minus loaded, quarantined and duplicates, asserted to be 0. A file
refused whole is named in the message and leaves the store exactly as it was, so nothing of it
is lost silently either. No case prints a Python traceback (each test asserts it).

Exit codes: 0 loaded (with any quarantine), 1 some file was refused and the rest loaded,
2 nothing was done (the message says why and what to do), 130 interrupted (Ctrl-C).

This file is generated: `python scripts/reliability_table.py --run` runs the suite and rewrites
it (set `GUARDIAN_TEST_POSTGRES_URL` for the PostgreSQL column). Do not edit it by hand.
"""

PROPERTIES = """
## Property-based tests

`tests/faults/test_properties.py` builds police.uk street files from 150 real Essex rows with
random damage (fields replaced by arbitrary text, fields dropped or added, rows repeated, blank
and garbage lines, bad months, quoted newlines, lines cut short, CRLF, BOM) and random damage to
the gzip stream (cut short, a byte flipped), and checks that rows read = loaded + quarantined +
duplicates, that "read" equals the `csv` module's count of records, and that the store never
holds part of a file (each file in force has exactly its reported rows; a refused file leaves no
trace). CI runs 25 seeded examples per property (`derandomize`); set
`GUARDIAN_HYPOTHESIS_EXAMPLES=500` for more.
"""


def load(folder: Path) -> list[dict]:
    """The records a run left in ``folder``."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _short(text: str, limit: int = 220) -> str:
    """A message cut to ``limit`` characters (a table cell, not a log)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gap_message(c: dict) -> str:
    """What a gap does: its error line, or that it ran on without one."""
    m = c["message"]
    return _short(m) if m.startswith(("error", "interrupted")) else (
        f"accepted without an error (exit {c['exit_code']}); it should be refused")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(records: list[dict]) -> str:
    """Markdown of the merged records: one row per case, a column per store.

    Parameters
    ----------
    records : list of dict
        Keys ``case, command, store, exit_code, message, rows_lost, gap``.

    Returns
    -------
    str
        The whole of docs/reliability.md.
    """
    cases: dict[str, dict] = {}
    for r in records:
        c = cases.setdefault(r["case"], {**r, "stores": {}, "messages": {}})
        c["stores"][r["store"]] = r["exit_code"]
        c["messages"][r["store"]] = r["message"]
    passed = [c for c in cases.values() if not c.get("gap")]
    gaps = [c for c in cases.values() if c.get("gap")]
    stores = sorted({r["store"] for r in records})
    lines = [INTRO, f"{len(passed)} cases pass on {', '.join(stores) or 'no store'}"
             + (f"; {len(gaps)} known gap{'s' if len(gaps) != 1 else ''} listed after the table."
                if gaps else "."), "",
             "| case | command | exit code | message | rows lost | SQLite | PostgreSQL |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in sorted(passed, key=lambda c: c["test"]):
        codes = set(c["stores"].values())
        code = ", ".join(f"{v} ({k})" for k, v in sorted(c["stores"].items())) \
            if len(codes) > 1 else str(codes.pop())
        # Stores that end differently (e.g. a lock on one, a wait on the other) show both.
        message = "; ".join(f"{k}: {_short(m)}" for k, m in sorted(c["messages"].items())) \
            if len(set(c["messages"].values())) > 1 else _short(c["message"])
        marks = ["pass" if s in c["stores"] else "not run" for s in ("sqlite", "postgresql")]
        lines.append(f"| {_cell(c['case'])} | `{_cell(c['command'])}` | {code} | "
                     f"{_cell(message)} | {c['rows_lost']} | {marks[0]} | {marks[1]} |")
    if gaps:
        lines += ["", "## Known gaps", "",
                  "Cases the suite shows to fall short (tests marked `xfail(strict=True)`, so "
                  "they fail once fixed, prompting their move into the table).", "",
                  "| case | command | exit code | what happens |", "| --- | --- | --- | --- |"]
        for c in gaps:
            lines.append(f"| {_cell(c['case'])} | `{_cell(c['command'])}` | {c['exit_code']} | "
                         f"{_cell(_gap_message(c))} |")
    lines.append(PROPERTIES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--run`` the suite or read ``--results``; write ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="run tests/faults first")
    ap.add_argument("--results", type=Path, help="folder of JSON records from a run")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.run:
        folder = Path(tempfile.mkdtemp(prefix="faults-results-"))
        env = dict(os.environ, GUARDIAN_FAULTS_RESULTS=str(folder))
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/faults"], cwd=REPO, env=env)
        if done.returncode != 0:
            print("the fault suite failed; docs not rewritten", file=sys.stderr)
            return done.returncode
    elif args.results:
        folder = args.results
    else:
        ap.error("give --run or --results FOLDER")
    records = load(folder)
    if not records:
        print(f"no records in {folder}", file=sys.stderr)
        return 1
    args.out.write_text(render(records))
    print(f"{args.out}: {len({r['case'] for r in records})} cases from {len(records)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
