"""CLI: forecast (monthly recorded crime with intervals, always with its back-test)."""

from __future__ import annotations

import json
import sys

import typer

from guardian.errors import InputError

_METHODS_HELP = (
    "Methods: snaive, ets, sarima, ensemble (default: all four); ets-statsmodels and "
    "sarima-statsmodels are the slow statsmodels references (repeatable)."
)


def _methods(method: list[str] | None):
    from guardian.analysis.forecast import FAST_METHODS, METHODS

    if not method:
        return list(FAST_METHODS)
    out = []
    for m in method:
        for part in m.split(","):
            part = part.strip().lower()
            if part == "all":
                out.extend(METHODS)
            elif part:
                if part not in METHODS:
                    raise InputError(f"--method {part!r} is not one of {list(METHODS)}")
                out.append(part)
    return list(dict.fromkeys(out))


def _backtest_table(summary, title):
    from rich.table import Table

    from guardian.analysis.forecast import LABELS

    t = Table(title=title)
    for c in ("method", "windows", "MAE", "MASE", "vs seasonal naive", "sMAPE %", "80% held",
              "95% held"):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in summary.to_dict("records"):
        t.add_row(
            LABELS.get(r["method"], r["method"]), str(r["windows"]), f"{r['mae']:.1f}",
            f"{r['mase']:.3f}", f"{r['relative_mase']:.3f}", f"{r['smape']:.2f}",
            f"{100 * r['coverage_80']:.1f}%", f"{100 * r['coverage_95']:.1f}%",
        )
    return t


def register(app: typer.Typer) -> None:
    """Add the forecast commands to ``app``."""
    fc = typer.Typer(
        name="forecast",
        help="Forecast monthly recorded crime 1-24 months ahead with 80%/95% intervals and "
        "its rolling-origin back-test (MASE, sMAPE, coverage against seasonal naive).",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(fc)

    force_opt = typer.Option(None, "--force", help="Force as loaded, e.g. 'essex'.")
    district_opt = typer.Option(None, "--district", help="Policing district, e.g. 'Colchester'.")
    category_opt = typer.Option(
        None, "--category", help="police.uk category (default: all crime, ASB excluded)."
    )
    end_opt = typer.Option(None, "--end", help="Last month of history, YYYY-MM (default latest).")
    breaks_opt = typer.Option(
        "exclude", "--breaks",
        help="The 2020-03..2021-03 lockdown window: exclude (not fitted, not scored), refuse, "
        "or ignore.",
    )
    json_opt = typer.Option(False, "--json", help="Print JSON instead of tables.")

    @fc.callback()
    def forecast_cmd(
        ctx: typer.Context,
        force: str | None = force_opt,
        district: str | None = district_opt,
        category: str | None = category_opt,
        horizon: int = typer.Option(12, "--horizon", help="Months ahead, 1..24."),
        method: list[str] | None = typer.Option(None, "--method", help=_METHODS_HELP),
        end: str | None = end_opt,
        breaks: str = breaks_opt,
        as_json: bool = json_opt,
    ) -> None:
        """Forecast a force's (or district's) monthly crime, with its measured accuracy."""
        if ctx.invoked_subcommand is not None:
            return
        if not force:
            raise InputError("give --force (e.g. --force essex); see guardian forecast --help")
        from guardian.reports.briefing.forecast import store_forecast
        from guardian.store.db import get_engine

        res = store_forecast(
            get_engine(), force, district=district, category=category, horizon=horizon,
            end=end, break_policy=breaks, methods=_methods(method),
        )
        if as_json:
            json.dump(res.to_dict(), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        from rich.table import Table

        from guardian.analysis.forecast import LABELS
        from guardian.cli import make_console

        con = make_console()
        s = res.series
        con.print(f"[b]{res.label}[/b]: history {s.months[0]}..{s.months[-1]} ({s.n} months)"
                  + (f"; break window {s.excluded[0]}..{s.excluded[-1]} not fitted"
                     if s.excluded else ""))
        f = res.forecasts[res.method]
        t = Table(title=f"Forecast: {LABELS[res.method]} (lowest back-test MASE)")
        for c in ("month", "forecast", "80% interval", "95% interval"):
            t.add_column(c, justify="left" if c == "month" else "right")
        for r in f.to_dict("records"):
            t.add_row(r["month"], f"{r['mean']:.0f}", f"{r['lower_80']:.0f}-{r['upper_80']:.0f}",
                      f"{r['lower_95']:.0f}-{r['upper_95']:.0f}")
        con.print(t)
        con.print(_backtest_table(
            res.backtest.summary,
            f"Back-test: {len(res.backtest.origins)} rolling windows, 1-{res.backtest.horizon} "
            f"months ahead, first forecast months {res.backtest.origins[0]}.."
            f"{res.backtest.origins[-1]}",
        ))
        con.print(res.sentence() + ".")
        if res.suspected_breaks:
            con.print(f"Unusual year-on-year changes (not removed): {', '.join(res.suspected_breaks)}")

    @fc.command("backtest")
    def backtest_cmd(
        force: str = typer.Option(..., "--force", help="Force as loaded, e.g. 'essex'."),
        district: str | None = district_opt,
        category: str | None = category_opt,
        horizon: int = typer.Option(12, "--horizon", help="Months ahead scored, 1..24."),
        method: list[str] | None = typer.Option(None, "--method", help=_METHODS_HELP),
        min_train: int = typer.Option(36, "--min-train", help="Months in the first training window."),
        step: int = typer.Option(1, "--step", help="Months between origins."),
        end: str | None = end_opt,
        breaks: str = breaks_opt,
        as_json: bool = json_opt,
    ) -> None:
        """Rolling-origin back-test only: MASE, sMAPE and interval coverage of each method,
        overall and by months ahead, against seasonal naive."""
        from guardian.analysis.forecast import prepare_series, rolling_origin_backtest
        from guardian.reports.briefing.forecast import store_series
        from guardian.store.db import get_engine

        counts, label = store_series(get_engine(), force, district=district, category=category,
                                     end=end)
        s = prepare_series(counts, break_policy=breaks, min_months=min_train + horizon,
                           label=label)
        bt = rolling_origin_backtest(s.values, methods=_methods(method), horizon=horizon,
                                     min_train=min_train, step=step, months=s.months)
        if as_json:
            d = {"label": label, "excluded_months": s.excluded, **bt.to_dict()}
            json.dump(d, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        from rich.table import Table

        from guardian.cli import make_console

        con = make_console()
        con.print(f"[b]{label}[/b]: {s.months[0]}..{s.months[-1]} ({s.n} months)")
        con.print(_backtest_table(
            bt.summary, f"{len(bt.origins)} windows, first forecast months {bt.origins[0]}.."
            f"{bt.origins[-1]}, 1-{horizon} months ahead",
        ))
        t = Table(title="MASE by months ahead")
        t.add_column("method")
        for h in range(1, horizon + 1):
            t.add_column(str(h), justify="right")
        for m, sub in bt.by_horizon.groupby("method", sort=False):
            t.add_row(str(m), *[f"{v:.2f}" for v in sub["mase"]])
        con.print(t)
        con.print("Seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in bt.timings.items()))
