"""Checks at the edge of the cocoon service: references, assignees, outcomes and parameters.

Everything a caller gives (``C-12``/``V-345`` references, collar numbers and teams, visit
outcomes, radius/window/deadline, the neighbour-visit cap and its per-force default in
``forces.toml``) is checked here once, with errors that name the bad value and the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from guardian.errors import InputError
from guardian.operations.cocoons.models import OUTCOMES

DEFAULT_RADIUS_M = 400.0


DEFAULT_WINDOW_DAYS = 42.0


DEFAULT_VISIT_HOURS = 48.0
DEFAULT_NEIGHBOUR_VISITS = 5
"""Neighbouring places visited per burglary besides the victim (``docs/cocoons.md``: the
victim's immediate neighbours, as in the Kirkholt cocoon; the rest of the zone is covered by
leaflets and patrol)."""


STATUSES: tuple[str, ...] = ("open", "active", "expired", "merged")


LIVE_STATUSES: tuple[str, ...] = ("open", "active")


_OUTCOME_ALIASES = {
    "spoke": "spoke", "spoke-to-resident": "spoke", "advice": "advice", "advice-left": "advice",
    "no-answer": "no-answer", "no_answer": "no-answer", "noanswer": "no-answer",
    "no answer": "no-answer", "declined": "declined",
}


_ASSIGNEE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,59}$")


_REF = re.compile(r"^\s*([CcVv])-?(\d+)\s*$")


@dataclass(frozen=True)
class CocoonParameters:
    """Radius, risk window and visit deadline of new cocoons, and where they came from.

    Parameters
    ----------
    radius_m : float
        Radius of each burglary's disc, metres (default 400).
    window_days : float
        Days a burglary's disc stays at risk (default 42).
    visit_hours : float
        Hours after the report within which the visits are due (default 48).
    source : str
        ``"default"``, ``"manual"`` or ``"knox: <dataset> <dates>, seed N"``.
    """

    radius_m: float = DEFAULT_RADIUS_M
    window_days: float = DEFAULT_WINDOW_DAYS
    visit_hours: float = DEFAULT_VISIT_HOURS
    source: str = "default"

    def __post_init__(self) -> None:
        checks = (("radius_m", self.radius_m, 1.0, 5000.0, "metres"),
                  ("window_days", self.window_days, 1.0, 365.0, "days"),
                  ("visit_hours", self.visit_hours, 1.0, 24.0 * 14, "hours"))
        for name, value, lo, hi, unit in checks:
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{name} must be a number of {unit}, got {value!r}") from None
            if not (lo <= v <= hi):
                raise InputError(f"{name} {value!r} is out of range: give {lo:g} to {hi:g} {unit} "
                                 f"(defaults: 400 m, 42 days, 48 hours)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_ref(text: str) -> tuple[str, int]:
    m = _REF.match(str(text))
    if not m:
        raise InputError(f"{text!r} is not a cocoon or visit reference; write C-12 for cocoon 12 "
                         "or V-345 for visit 345 (as shown by `guardian cocoons list`)")
    return m.group(1).upper(), int(m.group(2))


def cocoon_ref(cocoon_id: int) -> str:
    """``"C-<id>"``, the reference users see for a cocoon."""
    return f"C-{cocoon_id}"


def visit_ref(visit_id: int) -> str:
    """``"V-<id>"``, the reference users see for a visit task."""
    return f"V-{visit_id}"


def _check_assignee(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    if not _ASSIGNEE.match(value):
        raise InputError(f"{name} {value!r} is not a valid assignee: use a collar number or team "
                         "(letters, digits, space . _ / # -, up to 60 characters), never a "
                         "victim's or resident's name")
    return value


def _check_outcome(value: str) -> str:
    key = str(value).strip().lower()
    if key not in _OUTCOME_ALIASES:
        raise InputError(f"outcome {value!r} is not one of {list(OUTCOMES)}")
    return _OUTCOME_ALIASES[key]


def _knox_from_dict(doc: dict[str, Any]):
    from guardian.analysis.nearrepeat import KnoxResult

    required = ("space_bands", "time_bands", "knox_ratio", "p_value", "observed")
    missing = [k for k in required if k not in doc]
    if missing:
        raise InputError(f"not a Knox result: keys {missing} are missing; write one with "
                         "`guardian nearrepeat knox ... --json FILE.json`")
    shape = np.asarray(doc["observed"]).shape
    kw: dict[str, Any] = {}
    for f in fields(KnoxResult):
        v = doc.get(f.name)
        if f.name in ("observed",):
            kw[f.name] = np.asarray(v, dtype=np.int64)
        elif f.name in ("expected_mean", "expected_median", "expected_sd", "knox_ratio",
                        "knox_ratio_median", "p_value", "z_score"):
            if v is None:
                kw[f.name] = np.full(shape, np.nan)
            else:
                kw[f.name] = np.array([[np.nan if c is None else c for c in row] for row in v],
                                      dtype=float)
        elif f.name in ("space_bands", "time_bands", "space_labels", "time_labels", "warnings"):
            kw[f.name] = tuple(v or ())
        elif v is not None:
            kw[f.name] = v
        elif f.name in ("n_events", "permutations", "seed", "n_close_pairs"):
            kw[f.name] = 0
        elif f.name == "same_location":
            kw[f.name] = False
        elif f.name in ("alpha", "min_ratio"):
            kw[f.name] = 0.05 if f.name == "alpha" else 1.2
        elif f.name in ("closed", "metric"):
            kw[f.name] = "left" if f.name == "closed" else "euclidean"
    return KnoxResult(**kw)


def knox_parameters(
    knox: Any,
    *,
    min_ratio: float = 1.2,
    alpha: float = 0.05,
    dataset: str | None = None,
    dates: str | None = None,
    visit_hours: float = DEFAULT_VISIT_HOURS,
) -> CocoonParameters:
    """Cocoon radius and window derived from a force's own Knox result.

    Uses :func:`guardian.analysis.nearrepeat.derive_cocoon_parameters`: the furthest space and
    time bands reachable from the origin cell through cells with ``p <= alpha`` and Knox ratio
    ``>= min_ratio``.

    Parameters
    ----------
    knox : KnoxResult or dict
        A :class:`~guardian.analysis.nearrepeat.KnoxResult`, or the JSON document written by
        ``guardian nearrepeat knox --json`` (its ``input`` block names the data and dates).
    min_ratio, alpha : float
        Thresholds of a significant cell.
    dataset, dates : str, optional
        Provenance written into ``source`` (taken from the JSON's ``input`` when not given).
    visit_hours : float
        Visit deadline, hours (not derived from Knox).

    Returns
    -------
    CocoonParameters
        ``source`` reads ``"knox: <dataset> <dates>, seed N"``.

    Raises
    ------
    InputError
        When the result shows no near-repeat pattern (the first cell is not significant) or the
        near-repeat module is not available.
    """
    try:
        from guardian.analysis.nearrepeat import derive_cocoon_parameters
    except ImportError as exc:  # pragma: no cover - the module ships with Guardian
        raise InputError("Knox-derived parameters need guardian.analysis.nearrepeat, which "
                         f"could not be imported ({exc}); use --radius/--window") from exc
    info: dict[str, Any] = {}
    if isinstance(knox, dict):
        info = knox.get("input") or {}
        result = _knox_from_dict(knox)
    else:
        result = knox
    derived = derive_cocoon_parameters(result, min_ratio=min_ratio, alpha=alpha)
    if derived is None:
        raise InputError(
            f"the Knox result shows no near-repeat pattern to act on: its first cell is not "
            f"significant with ratio >= {min_ratio:g} and p <= {alpha:g}; use the defaults "
            "(400 m, 42 days) or give --radius/--window")
    radius, window = derived
    ds = dataset or info.get("dataset") or info.get("source") or "unnamed data"
    if dates is None:
        lo, hi = info.get("from"), info.get("to")
        if lo or hi:
            dates = f"{lo or 'first month'}..{hi or 'last month'}"
        elif info.get("time_origin"):
            dates = f"from {str(info['time_origin'])[:10]}"
        else:
            dates = "all dates"
    source = f"knox: {ds} {dates}, seed {int(result.seed)}"
    return CocoonParameters(radius_m=float(radius), window_days=float(window),
                            visit_hours=visit_hours, source=source)



def check_neighbour_visits(value: Any, name: str = "neighbour_visits") -> int | None:
    """The neighbour-visit cap as given: a whole number >= 0, or None / ``"all"`` for every
    place within the radius.

    Raises
    ------
    InputError
        Anything else (a negative number, a fraction, a word other than "all", a boolean).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise InputError(f"{name} must be a whole number >= 0 (neighbouring places visited per "
                     f"burglary besides the victim) or 'all', got {value!r}; the default is "
                     f"{DEFAULT_NEIGHBOUR_VISITS}")


def _key(text: str) -> str:
    return " ".join(str(text).replace("_", " ").replace("-", " ").split()).casefold()


def resolve_neighbour_visits(
    *,
    names: tuple[str, ...] | list[str],
    given: Any = None,
    home: Path | None = None,
) -> tuple[int | None, str]:
    """The neighbour-visit cap of a run: the one given, else the force's own default, else
    :data:`DEFAULT_NEIGHBOUR_VISITS`.

    The force's default is ``neighbour_visits`` in the table ``[cocoons.<force>]`` of
    ``home/forces.toml`` (when that file exists), e.g.::

        [cocoons.essex]
        neighbour_visits = 8      # or "all"

    The table name is matched, ignoring case, spaces, ``_`` and ``-``, against each of
    ``names`` and their force short names (``"Essex Police"`` -> ``"Essex"``).

    Parameters
    ----------
    names : sequence of str
        The dataset's name and any other spelling the user gave (``--force essex``).
    given : int, str or None
        The run's own value (``--neighbour-visits``); None when not given.
    home : Path, optional
        ``GUARDIAN_HOME``; no file is read without it.

    Returns
    -------
    (int or None, str)
        The cap (None: every place within the radius) and where it came from:
        ``"--neighbour-visits"``, ``"<path> [cocoons.<name>]"`` or ``"default"``.

    Raises
    ------
    InputError
        A bad value given or in the file, or a file that is not TOML.
    """
    if given is not None:
        return check_neighbour_visits(given, "--neighbour-visits"), "--neighbour-visits"
    path = None if home is None else Path(home) / "forces.toml"
    if path is not None and path.is_file():
        try:
            with open(path, "rb") as fh:
                conf = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not a TOML file ({exc})") from exc
        tables = conf.get("cocoons", {})
        if not isinstance(tables, dict):
            raise InputError(f"{path}: [cocoons] must be a table of forces, e.g. "
                             "[cocoons.essex] with neighbour_visits = 5")
        from guardian.data.geography import force_short_name

        wanted = {_key(n) for n in names} | {_key(force_short_name(n)) for n in names}
        for table, conf_ in tables.items():
            if _key(table) in wanted or _key(force_short_name(table)) in wanted:
                if not isinstance(conf_, dict) or "neighbour_visits" not in conf_:
                    raise InputError(f"{path}: [cocoons.{table}] needs neighbour_visits = N "
                                     "(a whole number >= 0, or \"all\")")
                where = f"{path} [cocoons.{table}]"
                return check_neighbour_visits(conf_["neighbour_visits"], where), where
    return DEFAULT_NEIGHBOUR_VISITS, "default"
