"""Near-repeat analysis: the Knox test and the cocoon parameters read off it.

See :mod:`guardian.analysis.nearrepeat.knox` for the method and how band edges work, and
``docs/near-repeat.md`` for the user guide. The heat-map figure is drawn by
:func:`guardian.reports.knox_heatmap.knox_heatmap` (drawing and files live outside analysis).
"""

from guardian.analysis.nearrepeat.knox import (
    KnoxResult,
    band_labels,
    derive_cocoon_parameters,
    knox_test,
)

__all__ = ["KnoxResult", "band_labels", "derive_cocoon_parameters", "knox_test"]
