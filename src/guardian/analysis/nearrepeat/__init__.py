"""Near-repeat analysis: the Knox test and the cocoon parameters read off it.

See :mod:`guardian.analysis.nearrepeat.knox` for the method and how band edges work, and
``docs/near-repeat.md`` for the user guide.
"""

from guardian.analysis.nearrepeat.knox import (
    KnoxResult,
    band_labels,
    derive_cocoon_parameters,
    knox_test,
)

__all__ = ["KnoxResult", "band_labels", "derive_cocoon_parameters", "knox_test", "knox_heatmap"]


def __getattr__(name: str):  # matplotlib is imported only when a figure is asked for
    if name == "knox_heatmap":
        from guardian.analysis.nearrepeat.figures import knox_heatmap

        return knox_heatmap
    raise AttributeError(name)
