"""Harm tables: the weight per police.uk crime category that harm figures multiply counts by.

Guardian ships ``harm_index_v1`` (``reference/harm_index_v1.csv``; how it was built, with
sources, in ``reference/harm_index_v1.md`` and ``scripts/build_harm_index.py``). A force may give
its own table as a CSV with columns ``category, weight``. The arithmetic on the weights lives in
:mod:`guardian.analysis.harm`; this module only reads and checks tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from guardian.data.schema import ASB, CRIME_CATEGORIES, normalise_category
from guardian.errors import InputError

DEFAULT_VERSION = "harm_index_v1"

CATEGORY_CAVEAT = (
    "A category weight is the national average severity of the offences police.uk publishes "
    "under that category (2017/18 offence mix). It hides the offence mix within the category: "
    "an area with more serious offences inside a category than the national mix has its harm "
    "understated, and the reverse. Anti-social behaviour has no weight (not a notifiable offence)."
)


@dataclass(frozen=True)
class HarmWeights:
    """A harm weight per police.uk crime category.

    Attributes
    ----------
    version : str
        Table version (e.g. ``"harm_index_v1"``); written into every report.
    weights : dict[str, float]
        Category -> weight (CSS points: sentence-equivalent days per offence).
    unit : str
    source : str
        Short citation.
    caveat : str
        Printed with the table wherever it is used.
    """

    version: str
    weights: dict[str, float]
    unit: str = "CSS points (sentence-equivalent days) per offence"
    source: str = ""
    caveat: str = CATEGORY_CAVEAT
    table: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for cat, w in self.weights.items():
            if cat not in CRIME_CATEGORIES:
                raise InputError(
                    f"harm weight given for {cat!r}, which is not a police.uk crime category; "
                    f"expected one of {list(CRIME_CATEGORIES)}"
                )
            if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
                raise InputError(f"harm weight for {cat!r} must be a finite number >= 0, got {w!r}")
        missing = [c for c in CRIME_CATEGORIES if c not in self.weights]
        if missing:
            raise InputError(f"harm weights missing for categories {missing}")

    def weight(self, category: str) -> float:
        """Weight of one category (0 for anti-social behaviour)."""
        if category == ASB:
            return 0.0
        return self.weights[category]

    def to_frame(self) -> pd.DataFrame:
        """The weight table, one row per category, heaviest first."""
        if self.table is not None:
            return self.table.copy()
        return (
            pd.DataFrame({"category": list(self.weights), "weight": list(self.weights.values())})
            .sort_values("weight", ascending=False)
            .reset_index(drop=True)
        )

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "unit": self.unit,
            "source": self.source,
            "caveat": self.caveat,
            "weights": {k: float(v) for k, v in self.weights.items()},
        }


def load_harm_weights(version: str = DEFAULT_VERSION) -> HarmWeights:
    """Load a harm table: a version shipped with Guardian (``data/reference/<version>.csv``) or
    the path of a CSV of your own with columns ``category, weight`` (one row per police.uk crime
    category; the file's name, without ``.csv``, becomes the version written into reports).

    Raises :class:`InputError` naming the available versions when ``version`` is unknown.
    """
    if str(version).endswith(".csv"):
        path = Path(version)
        if not path.is_file():
            raise InputError(f"harm table file {version!r} does not exist")
        table = pd.read_csv(path)
        if not {"category", "weight"} <= set(table.columns):
            raise InputError(f"{version}: a harm table needs columns 'category' and 'weight'")
        table["category"] = table["category"].map(normalise_category)
        return HarmWeights(
            version=path.stem,
            weights=dict(zip(table["category"], table["weight"].astype(float), strict=True)),
            source=f"user table {path}",
            table=table,
        )
    base = resources.files("guardian.data") / "reference"
    available = sorted(
        p.name[:-4]
        for p in base.iterdir()
        if p.name.startswith("harm_index_") and p.name.endswith(".csv")
    )
    if version not in available:
        raise InputError(
            f"harm table {version!r} not found; available: {available}, or give "
            "the path of a CSV with columns category, weight"
        )
    with resources.as_file(base / f"{version}.csv") as path:
        table = pd.read_csv(path)
    weights = dict(zip(table["category"], table["weight"].astype(float), strict=True))
    return HarmWeights(
        version=version,
        weights=weights,
        source=(
            "ONS Crime Severity Score offence weights (ONS 2016, CSS data tool; per-offence "
            "values partly approximate, see harm_index_v1.md), mapped to police.uk categories "
            "weighted by Home Office recorded crime 2017/18 offence counts"
        ),
        table=table,
    )
