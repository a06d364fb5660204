"""Tag-matching settings: distance and time windows (per category), accuracy limit, retention.

Defaults (stated, and used when ``GUARDIAN_HOME/tagmatch.toml`` is absent):

* any category: 100 m, 60 minutes either side of the crime's time span;
* Burglary: 100 m, 120 minutes either side; Robbery: 50 m, 30 minutes either side;
* fixes with an accuracy radius over 50 m are not used;
* trails are kept 90 days, then purged.

``tagmatch.toml``::

    retention_days = 90
    max_accuracy_m = 50
    [default]
    distance_m = 100
    before_minutes = 60
    after_minutes = 60
    [categories.Burglary]
    distance_m = 150
    before_minutes = 180
    after_minutes = 60
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from guardian.analysis.tagmatch import DEFAULT_WINDOW, DEFAULT_WINDOWS, MAX_ACCURACY_M, MatchWindow
from guardian.data.schema import CATEGORY_LOOKUP
from guardian.errors import InputError

RETENTION_DAYS = 90


@dataclass(frozen=True)
class TagmatchConfig:
    """Windows, accuracy limit and retention of tag matching."""

    windows: dict[str, MatchWindow] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    default: MatchWindow = DEFAULT_WINDOW
    max_accuracy_m: float = MAX_ACCURACY_M
    retention_days: int = RETENTION_DAYS

    def to_dict(self) -> dict:
        w = lambda v: {"distance_m": v.distance_m, "before_s": v.before_s, "after_s": v.after_s}  # noqa: E731
        return {"windows": {k: w(v) for k, v in sorted(self.windows.items())},
                "default": w(self.default), "max_accuracy_m": self.max_accuracy_m,
                "retention_days": self.retention_days}


def _window(d: dict, where: str, base: MatchWindow) -> MatchWindow:
    unknown = set(d) - {"distance_m", "before_minutes", "after_minutes"}
    if unknown:
        raise InputError(f"tagmatch.toml [{where}]: unknown keys {sorted(unknown)}; expected "
                         f"distance_m, before_minutes, after_minutes")
    try:
        return MatchWindow(distance_m=float(d.get("distance_m", base.distance_m)),
                           before_s=int(round(float(d.get("before_minutes", base.before_s / 60)) * 60)),
                           after_s=int(round(float(d.get("after_minutes", base.after_s / 60)) * 60)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"tagmatch.toml [{where}]: {exc}") from exc


def load_config(home: Path | None) -> TagmatchConfig:
    """The settings in ``home/tagmatch.toml``, or the defaults."""
    path = Path(home) / "tagmatch.toml" if home else None
    if path is None or not path.is_file():
        return TagmatchConfig()
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not TOML ({exc})") from exc
    default = _window(doc.get("default", {}), "default", DEFAULT_WINDOW)
    windows = dict(DEFAULT_WINDOWS)
    for name, d in doc.get("categories", {}).items():
        cat = CATEGORY_LOOKUP.get(name.strip().lower())
        if cat is None:
            raise InputError(f"{path}: unknown category {name!r}; use a police.uk category")
        windows[cat] = _window(d, f"categories.{name}", windows.get(cat, default))
    ret = int(doc.get("retention_days", RETENTION_DAYS))
    if ret < 1:
        raise InputError(f"{path}: retention_days must be at least 1, got {ret}")
    acc = float(doc.get("max_accuracy_m", MAX_ACCURACY_M))
    return TagmatchConfig(windows=windows, default=default, max_accuracy_m=acc, retention_days=ret)
