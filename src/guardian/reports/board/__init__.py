"""The quarterly board report against the strategy's themes, and the governance pack.

Split by job: :mod:`.themes` (configuration), :mod:`.trace` (how each figure was computed),
:mod:`.providers` (results of the other rooms, or "not available yet"), :mod:`.build` (the
sections), :mod:`.governance` (ATRS records, ALGO-CARE, audit summary), :mod:`.render` (HTML,
PDF, JSON). :func:`board_report` builds the report from the store.
"""

from __future__ import annotations


def board_report(engine, *, force: str, quarter: str, themes=None, params=None) -> dict:
    """Build the report of ``force`` for ``quarter`` from the store.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    force : str
        As typed ("essex").
    quarter : str
        ``YYYYQn``; its last month must be loaded.
    themes : ThemesConfig or path, optional
        The themes configuration (default: the shipped Essex themes).
    params : guardian.reports.context.Params, optional

    Returns
    -------
    dict
        See :func:`guardian.reports.board.build.build_board`.
    """
    from guardian.errors import NotFound
    from guardian.operations.board.service import current_texts
    from guardian.reports.board.build import build_board, quarter_months
    from guardian.reports.board.themes import ThemesConfig, load_themes
    from guardian.reports.context import gather_context

    cfg = themes if isinstance(themes, ThemesConfig) else load_themes(themes)
    months = quarter_months(quarter)
    try:
        ctx = gather_context(engine, force, months[-1], params=params)
    except NotFound as exc:
        raise NotFound(f"the report for {quarter.strip().upper()} needs its last month "
                       f"{months[-1]}: {exc}") from exc
    texts = current_texts(engine, force=ctx.force, quarter=quarter)
    return build_board(ctx, quarter=quarter.strip().upper(), themes=cfg, texts=texts)
