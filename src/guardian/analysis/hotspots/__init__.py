"""Harm spots: grid counts and harm, Getis-Ord Gi* with FDR control, the concentration curve,
stability between periods and emerging / persistent / new / diminishing labels.

police.uk data are month-precision and snapped to anonymised map points, so spots built from
them are labelled *approximate*; force extracts with exact dates and coordinates give *exact*
spots. Targeting excludes police-generated categories (drugs, possession of weapons) unless
asked (:data:`guardian.data.schema.POLICE_GENERATED`).
"""

from guardian.analysis.hotspots.concentration import Concentration, concentration, gini, top_share
from guardian.analysis.hotspots.gistar import (
    GiStarResult,
    bh_qvalues,
    distance_band_graph,
    gi_star,
    grid_gi_star,
    grid_graph,
    queen_adjacency,
)
from guardian.analysis.hotspots.spots import (
    DEFAULT_TARGET_CATEGORIES,
    EmergingResult,
    HarmSpotResult,
    StudyArea,
    emerging_hotspots,
    harm_spots,
    month_periods,
)
from guardian.analysis.hotspots.stability import (
    MannKendall,
    emerging_labels,
    mann_kendall,
    spot_overlap,
)

__all__ = [
    "DEFAULT_TARGET_CATEGORIES",
    "Concentration",
    "EmergingResult",
    "GiStarResult",
    "HarmSpotResult",
    "MannKendall",
    "StudyArea",
    "bh_qvalues",
    "concentration",
    "distance_band_graph",
    "emerging_hotspots",
    "emerging_labels",
    "gi_star",
    "gini",
    "grid_gi_star",
    "grid_graph",
    "harm_spots",
    "mann_kendall",
    "month_periods",
    "queen_adjacency",
    "spot_overlap",
    "top_share",
]
