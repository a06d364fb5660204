"""Comparison groups derived from the 2011 Census force profile: each force's nearest forces.

HMICFRS groups each force with its "most similar" forces on the demographic, social and economic
characteristics that relate to crime. Guardian ships hand-checked groups for a few forces
(``reference/comparison_groups.toml``); for every other force it derives a group from the shipped
force profile (``reference/force_profile_2011.csv``, built by
:func:`guardian.data.reference_build.build_force_profile`) so that every force can be ranked. A
derived group is a transparent approximation, not an official most similar group.

Method (:func:`derive_groups`)
------------------------------
1. Features, one value per force (:data:`FEATURES`): log persons per hectare (force-wide
   density; logged because it spans 0.5 to 52 and a ratio, not a difference, is what separates a
   shire from a city), sparse share (residents in LSOAs under 5 persons/ha), dense share
   (residents in LSOAs over 50 persons/ha), persons per household, communal share (residents in
   communal establishments: students' halls, care homes, barracks, prisons), log population.
2. Each feature is standardised to a z-score, ``(x - mean) / sd`` (``sd`` with ``ddof=0``), with
   mean and sd taken over the *comparable* forces only -- forces of at least
   :data:`MIN_COMPARABLE_POPULATION` residents, i.e. all but City of London -- so one force of
   7,375 residents does not set the scale for the other 42 (it is still scored on that scale).
   A feature that is the same for every comparable force has z = 0 (it separates no one).
3. Distance between two forces: weighted Euclidean, ``sqrt(sum_f w_f (z_f(a) - z_f(b))^2)``.
   Default weights (:data:`DEFAULT_WEIGHTS`) are all 1: density then counts through three of the
   six features (log density, sparse and dense share), on purpose: how urban or rural a force
   area is, is the main contrast between forces that these census counts can show, and it goes
   with large differences in recorded crime per head; household size and communal share stand
   for household composition and institutional populations; log population keeps very large and
   small forces apart (rates of small forces are noisier). No deprivation, income or crime data
   is used, so a derived group approximates the HMICFRS idea and does not reproduce it.
4. Each force's group is its ``k`` nearest other forces (default 7), nearest first, ties broken
   by name (distances rounded to 9 decimals first, so floating-point noise cannot reorder them):
   the result is deterministic. A force that is not comparable (under
   :data:`MIN_COMPARABLE_POPULATION` residents) still gets its nearest forces as its group, with
   that stated, but is never put in another force's group: a rate per 1,000 residents of a
   force whose daytime population dwarfs its residents says nothing about its peers.

Each group comes with its distances and a "why": the features on which the members are closest
to the force (smallest mean absolute z difference) and the force's profile values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from guardian.errors import InputError

#: Vintage of the shipped profile (stated as ``as_of`` of every derived group).
PROFILE_VINTAGE = "2011 Census"
PROFILE_FILE = "force_profile_2011.csv"
DEFAULT_K = 7
#: A force with fewer residents than this is not comparable (in 2011: only City of London).
MIN_COMPARABLE_POPULATION = 100_000

#: Feature name -> (profile column, log-transformed?, label for the "why").
FEATURES: dict[str, tuple[str, bool, str]] = {
    "log_persons_per_hectare": ("persons_per_hectare", True, "density"),
    "sparse_share": ("sparse_share", False, "share in sparse LSOAs"),
    "dense_share": ("dense_share", False, "share in dense LSOAs"),
    "persons_per_household": ("persons_per_household", False, "persons per household"),
    "communal_share": ("communal_share", False, "communal-establishment share"),
    "log_population": ("population", True, "population"),
}
DEFAULT_WEIGHTS: dict[str, float] = {name: 1.0 for name in FEATURES}


@dataclass(frozen=True)
class DerivedGroup:
    """A force's derived comparison group.

    Attributes
    ----------
    force : str
        Short force name.
    members : tuple of str
        The ``k`` nearest other forces, nearest first.
    distances : tuple of float
        Their distances (standardised units, see the module docstring), same order.
    closest_on : tuple of str
        The (up to three) features on which the members are, on average, closest to the force.
    why : str
        One sentence: closest features with the force's and the members' values, and the
        force's profile.
    comparable : bool
        False for a force under :data:`MIN_COMPARABLE_POPULATION` residents.
    """

    force: str
    members: tuple[str, ...]
    distances: tuple[float, ...]
    closest_on: tuple[str, ...]
    why: str
    comparable: bool = True


def _check(profile: pd.DataFrame, weights: Mapping[str, float], k: int) -> None:
    unknown = sorted(set(weights) - set(FEATURES))
    if unknown:
        raise InputError(f"unknown feature(s) {unknown}; expected some of {list(FEATURES)}")
    if any(not (w >= 0 and math.isfinite(w)) for w in weights.values()):
        raise InputError(f"feature weights must be finite and >= 0; got {dict(weights)}")
    need = ["force", *sorted({col for col, _, _ in FEATURES.values()})]
    missing = [c for c in need if c not in profile.columns]
    if missing:
        raise InputError(f"force profile lacks columns {missing}; expected {need}")
    if profile["force"].duplicated().any():
        raise InputError(f"force profile repeats forces: "
                         f"{sorted(set(profile.loc[profile['force'].duplicated(), 'force']))}")
    values = profile[need[1:]].astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise InputError("force profile has missing or infinite values")
    for col in {col for col, log, _ in FEATURES.values() if log}:
        if (values[col] <= 0).any():
            raise InputError(f"force profile: {col} must be > 0 (it is logged)")
    comparable = int((profile["population"] >= MIN_COMPARABLE_POPULATION).sum())
    if not 1 <= k <= comparable - 1:
        raise InputError(f"k = {k}: need 1 <= k <= {comparable - 1} (comparable forces - 1)")


def standardised(profile: pd.DataFrame) -> pd.DataFrame:
    """Z-scores of :data:`FEATURES` per force (index ``force``), scaled on the comparable forces.

    Returns
    -------
    DataFrame
        One column per feature name, one row per force, in the profile's order.
    """
    raw = pd.DataFrame({
        name: (np.log(profile[col].astype(float)) if log else profile[col].astype(float))
        for name, (col, log, _) in FEATURES.items()
    })
    raw.index = pd.Index(profile["force"].astype(str), name="force")
    ref = raw[(profile["population"] >= MIN_COMPARABLE_POPULATION).to_numpy()]
    sd = ref.std(ddof=0)
    # a constant feature separates no force: z = 0 rather than 0/0
    z = (raw - ref.mean()) / sd.where(sd > 0, np.inf)
    return z


def _fmt(col: str, value: float) -> str:
    if col == "population":
        return f"{value:,.0f}"
    if col.endswith("_share"):
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def derive_groups(profile: pd.DataFrame, k: int = DEFAULT_K,
                  weights: Mapping[str, float] | None = None) -> dict[str, DerivedGroup]:
    """Each force's ``k`` nearest forces on the standardised census features.

    Parameters
    ----------
    profile : DataFrame
        One row per force with ``force`` and the columns of :data:`FEATURES` (the shipped
        :func:`force_profile`, or any table of the same shape).
    k : int
        Group size (default :data:`DEFAULT_K`); at most the number of comparable forces - 1.
    weights : mapping, optional
        Feature name -> weight (>= 0); features not named keep weight 1, weight 0 drops one.

    Returns
    -------
    dict
        Force -> :class:`DerivedGroup`, in the profile's order.

    Raises
    ------
    InputError
        On missing or non-finite values, a non-positive value of a logged feature, repeated
        forces, unknown features or negative weights, or ``k`` out of range.
    """
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    _check(profile, w, k)
    z = standardised(profile)
    names = list(z.index)
    zs = z.to_numpy()
    wv = np.array([w[f] for f in z.columns])
    comparable = (profile["population"] >= MIN_COMPARABLE_POPULATION).to_numpy()
    values = profile.set_index(profile["force"].astype(str))
    out: dict[str, DerivedGroup] = {}
    for i, force in enumerate(names):
        d = np.sqrt(((zs - zs[i]) ** 2 * wv).sum(axis=1))
        order = sorted((round(float(d[j]), 9), names[j]) for j in range(len(names))
                       if j != i and comparable[j])
        near = order[:k]
        members = tuple(n for _, n in near)
        idx = [names.index(n) for n in members]
        # closeness per feature: mean |z difference| to the members, among weighted features
        gap = np.abs(zs[idx] - zs[i]).mean(axis=0)
        ranked = sorted((float(gap[f]), z.columns[f]) for f in range(len(wv)) if wv[f] > 0)
        closest = tuple(f for _, f in ranked[:3])
        parts = []
        for f in closest:
            col, _, label = FEATURES[f]
            mine = values.at[force, col]
            theirs = values.loc[list(members), col]
            parts.append(f"{label} {_fmt(col, mine)} (group {_fmt(col, theirs.min())}"
                         f"\N{EN DASH}{_fmt(col, theirs.max())})")
        r = values.loc[force]
        why = ("closest on " + ", ".join(parts) + f". Profile: {int(r['population']):,} "
               f"residents, {r['persons_per_hectare']:.2f} persons/ha, "
               f"{100 * r['sparse_share']:.1f}% in sparse and {100 * r['dense_share']:.1f}% in "
               f"dense LSOAs, {r['persons_per_household']:.2f} persons per household, "
               f"{100 * r['communal_share']:.1f}% communal.")
        out[force] = DerivedGroup(force=force, members=members,
                                  distances=tuple(dist for dist, _ in near), closest_on=closest,
                                  why=why, comparable=bool(comparable[i]))
    return out


@lru_cache(maxsize=1)
def force_profile() -> pd.DataFrame:
    """The shipped 2011 Census force profile (``reference/force_profile_2011.csv``).

    Returns
    -------
    DataFrame
        :data:`guardian.data.reference_build.PROFILE_COLUMNS`, one row per force (43).
    """
    ref = resources.files("guardian.data") / "reference" / PROFILE_FILE
    with resources.as_file(ref) as path:
        return pd.read_csv(path, dtype={"force": str})


@lru_cache(maxsize=1)
def shipped_groups(k: int = DEFAULT_K) -> dict[str, DerivedGroup]:
    """:func:`derive_groups` of the shipped :func:`force_profile` (cached)."""
    return derive_groups(force_profile(), k=k)
