"""CLI: ``guardian evaluate wdd|wdq|etest|did|trial|power`` and ``guardian survey ...``.

Counts come either from numbers on the command line, from a CSV (``area, period, count`` and
optionally ``category``), or from the store (``--force``: areas are policing districts, periods
are months; a month that was not loaded is missing, never zero). Every command prints its
estimate, confidence interval, p-value, assumptions and Maryland SMS level; ``--json`` prints
the same as JSON.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from guardian.cli import make_console
from guardian.errors import InputError

# --------------------------------------------------------------------------------------------
# count sources


def _range(text: str, option: str) -> tuple[str, str]:
    """``FROM:TO`` (inclusive) or a single period."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) == 1 and parts[0]:
        return parts[0], parts[0]
    if len(parts) != 2 or not parts[0] or not parts[1] or parts[0] > parts[1]:
        raise InputError(f"{option} {text!r}: expected FROM:TO with FROM <= TO, e.g. "
                         "2019-01:2019-06")
    return parts[0], parts[1]


def counts_from_csv(path: Path, *, category: str | None = None) -> pd.DataFrame:
    """Long count frame ``area, period, category, count`` from a CSV file.

    The file needs ``area, period, count`` columns; ``category`` is optional (taken as "all").
    Rows with an unreadable count are refused with their line numbers.
    """
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    need = [c for c in ("area", "period", "count") if c not in df.columns]
    if need:
        raise InputError(f"{path.name}: needs columns area, period, count (missing "
                         f"{', '.join(need)}; has {', '.join(df.columns)})")
    if "category" not in df.columns:
        df["category"] = "all"
    cnt = pd.to_numeric(df["count"], errors="coerce")
    bad = (cnt.isna() | (cnt < 0) | (cnt != cnt.round())).to_numpy()
    if bad.any():
        lines = [int(i) + 2 for i in df.index[bad][:10]]
        raise InputError(f"{path.name}: count is not a non-negative whole number on line(s) "
                         f"{lines}")
    out = pd.DataFrame({"area": df["area"].str.strip(), "period": df["period"].str.strip(),
                        "category": df["category"].str.strip(), "count": cnt.astype(int)})
    if category:
        out = out[out["category"].str.lower() == category.lower()]
        if out.empty:
            raise InputError(f"{path.name}: no rows of category {category!r}")
    return out.groupby(["area", "period", "category"], as_index=False)["count"].sum()


def counts_from_store(force: str, *, category: str | None, start: str | None,
                      end: str | None) -> tuple[pd.DataFrame, dict]:
    """District x month x category counts from the store, zero-filled over loaded months."""
    from guardian.data.schema import normalise_category
    from guardian.store.db import get_engine
    from guardian.store.events import events_frame
    from guardian.store.status import loaded_months, resolve_dataset

    cats = [normalise_category(category)] if category else None
    engine = get_engine()
    try:
        dataset = resolve_dataset(engine, force)
        months = [m for m in loaded_months(engine, dataset)
                  if (not start or m >= start) and (not end or m <= end)]
        ev = events_frame(engine, dataset=dataset, categories=cats, start_month=start,
                          end_month=end)
    finally:
        engine.dispose()
    if ev.empty or not months:
        raise InputError(f"{dataset}: no events in the store for {cats or 'any category'} "
                         f"between {start or 'the first month'} and {end or 'the last month'}")
    ev = ev[ev["month"].isin(months)]
    # Events with no district, or outside the force's districts, belong to no area: counted
    # and left out, never pooled into a pseudo-area that would act as a comparison.
    from guardian.data.geography import OUTSIDE

    no_district = ev["district"].fillna("").isin(["", OUTSIDE]).to_numpy()
    ev = ev[~no_district]
    if ev.empty:
        raise InputError(f"{dataset}: no events with a district (areas come from the LSOA "
                         "reference table); use --csv with your own areas")
    g = ev.groupby(["district", "month", "category"]).size()
    idx = pd.MultiIndex.from_product(
        [sorted(ev["district"].unique()), months, sorted(ev["category"].unique())],
        names=["district", "month", "category"])
    full = g.reindex(idx, fill_value=0).reset_index(name="count").rename(
        columns={"district": "area", "month": "period"})
    info = {"source": f"store:{dataset}", "dataset": dataset, "category": cats,
            "months": [months[0], months[-1]], "months_loaded": len(months),
            "events_without_district": int(no_district.sum())}
    return full, info


def _source(csv_path: Path | None, force: str | None, category: str | None,
            start: str | None = None, end: str | None = None) -> tuple[pd.DataFrame, dict]:
    if (csv_path is None) == (force is None):
        raise InputError("give counts with exactly one of --csv FILE or --force NAME (or the "
                         "numbers themselves)")
    if csv_path is not None:
        df = counts_from_csv(csv_path, category=category)
        if start:
            df = df[df["period"] >= start]
        if end:
            df = df[df["period"] <= end]
        return df, {"source": str(csv_path), "category": category}
    return counts_from_store(force, category=category, start=start, end=end)


def _area_sum(df: pd.DataFrame, areas: list[str], period: tuple[str, str], *,
              by_category: bool = False):
    """Total count over ``areas`` in the inclusive period range (per category if asked)."""
    known = set(df["area"])
    missing = [a for a in areas if a not in known]
    if missing:
        raise InputError(f"area(s) {', '.join(missing)} not in the counts; areas are "
                         f"{', '.join(sorted(known)[:20])}")
    sub = df[df["area"].isin(areas) & (df["period"] >= period[0]) & (df["period"] <= period[1])]
    if sub["period"].nunique() == 0:
        raise InputError(f"no periods between {period[0]} and {period[1]} in the counts")
    if by_category:
        cats = sorted(df["category"].unique())
        return sub.groupby("category")["count"].sum().reindex(cats, fill_value=0)
    return int(sub["count"].sum())


def _n_periods(df: pd.DataFrame, period: tuple[str, str]) -> int:
    p = df["period"]
    return int(p[(p >= period[0]) & (p <= period[1])].nunique())


# --------------------------------------------------------------------------------------------
# output


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        if x != x:
            return "n/a"
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:,.{digits}f}"
    return str(x)


def _p(p: float) -> str:
    if p != p:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _print_result(res, title: str | None = None) -> None:
    c = make_console()
    d = res.to_dict()
    t = Table(title=escape(title or d["method"]), show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("design", escape(d["design"]))
    t.add_row("Maryland SMS", f"level {d['smms_level']}: {escape(d['smms_description'])}")
    units = d["details"].get("estimate_units", "")
    t.add_row("estimate", f"{_fmt(res.estimate)} ({escape(units)})")
    t.add_row(f"{res.confidence:.0%} CI", f"{_fmt(res.ci_low)} to {_fmt(res.ci_high)}")
    sig = "significant" if res.significant else "not significant"
    t.add_row("p-value", f"{_p(res.p_value)} ({sig} at {1 - res.confidence:.2g})")
    for k, v in d["details"].items():
        if k in ("estimate_units",) or isinstance(v, (dict, list)):
            continue
        t.add_row(escape(k), escape(_fmt(v) if isinstance(v, float) else str(v)))
    for k, v in d["details"].items():
        if isinstance(v, dict) and v:
            t.add_row(escape(k), escape(", ".join(f"{a}={_fmt(b)}" for a, b in v.items())))
    c.print(t)
    c.print("[bold]assumptions[/]")
    for a in d["assumptions"]:
        c.print(f"  - {escape(a)}", soft_wrap=True)


def _emit(results: dict[str, Any], inputs: dict, as_json: bool) -> None:
    if as_json:
        out = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in results.items()}
        out["inputs"] = inputs
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    c = make_console()
    if inputs:
        c.print(escape("inputs: " + ", ".join(f"{k}={v}" for k, v in inputs.items()
                                               if not isinstance(v, (dict, list)))),
                soft_wrap=True)
    for name, r in results.items():
        if r is not None and hasattr(r, "estimate"):
            _print_result(r, name)


# --------------------------------------------------------------------------------------------
# commands

CsvOpt = typer.Option(None, "--csv", help="CSV of counts: area, period, count[, category].")
ForceOpt = typer.Option(None, "--force", help="Read counts from the store (district x month).")
CatOpt = typer.Option(None, "--category", help="Crime category (police.uk name).")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def _areas_and_periods(df, treated, control, buffer, before, after):
    b, a = _range(before, "--before"), _range(after, "--after")
    nb, na = _n_periods(df, b), _n_periods(df, a)
    if nb != na:
        raise InputError(f"before ({nb} periods) and after ({na} periods) must be the same "
                         "length for this test")
    return b, a, nb


def register(app: typer.Typer) -> None:
    """Add the evaluate and survey commands to ``app``."""
    ev = typer.Typer(help="Did it work? Evaluate an intervention (estimate, CI, p-value, "
                          "Maryland SMS level).", no_args_is_help=True)
    app.add_typer(ev, name="evaluate")
    sv = typer.Typer(help="Perception surveys: weighted estimates and significant change.",
                     no_args_is_help=True)
    app.add_typer(sv, name="survey")

    @ev.command("wdd")
    def wdd_cmd(
        treated_before: float = typer.Option(None, "--treated-before"),
        treated_after: float = typer.Option(None, "--treated-after"),
        control_before: float = typer.Option(None, "--control-before"),
        control_after: float = typer.Option(None, "--control-after"),
        buffer_before: float = typer.Option(None, "--buffer-before"),
        buffer_after: float = typer.Option(None, "--buffer-after"),
        csv_path: Path = CsvOpt,
        force: str = ForceOpt,
        category: str = CatOpt,
        treated: list[str] = typer.Option(None, "--treated", help="Treated area (repeat)."),
        control: list[str] = typer.Option(None, "--control", help="Control area (repeat)."),
        buffer: list[str] = typer.Option(None, "--buffer", help="Buffer area (repeat)."),
        before: str = typer.Option(None, "--before", help="FROM:TO periods before."),
        after: str = typer.Option(None, "--after", help="FROM:TO periods after."),
        harm: bool = typer.Option(False, "--harm", help="Weight categories by the harm table."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Weighted displacement difference test (Wheeler & Ratcliffe 2018)."""
        from guardian.analysis.evaluation import wdd

        inputs: dict[str, Any] = {}
        weights = None
        if csv_path is None and force is None:
            vals = [treated_before, treated_after, control_before, control_after]
            if any(v is None for v in vals):
                raise InputError("give --treated-before/--treated-after/--control-before/"
                                 "--control-after, or --csv/--force with areas and periods")
            tb, ta, cb, ca = vals
            db, da = buffer_before, buffer_after
        else:
            if not treated or not control or not before or not after:
                raise InputError("with --csv/--force give --treated, --control, --before and "
                                 "--after")
            if harm and category:
                raise InputError("--harm weights every category by its harm; drop --category "
                                 "(or drop --harm to test one category's counts)")
            df, inputs = _source(csv_path, force, category)
            b, a, n = _areas_and_periods(df, treated, control, buffer, before, after)
            tb, ta = _area_sum(df, treated, b, by_category=harm), _area_sum(df, treated, a,
                                                                           by_category=harm)
            cb, ca = _area_sum(df, control, b, by_category=harm), _area_sum(df, control, a,
                                                                           by_category=harm)
            db = da = None
            if buffer:
                db = _area_sum(df, buffer, b, by_category=harm)
                da = _area_sum(df, buffer, a, by_category=harm)
            if harm:
                from guardian.data.harm_table import load_harm_weights

                hw = load_harm_weights()
                cats = list(tb.index)
                unknown = [c for c in cats if c not in hw.weights]
                if unknown:
                    raise InputError(f"no harm weight for {', '.join(unknown)} in "
                                     f"{hw.version}")
                weights = [hw.weights[c] for c in cats]
                inputs["harm_table"] = hw.version
                tb, ta, cb, ca = (s.to_numpy() for s in (tb, ta, cb, ca))
                if buffer:
                    db, da = db.to_numpy(), da.to_numpy()
            inputs.update({"treated": treated, "control": control, "buffer": buffer or [],
                           "before": list(b), "after": list(a), "periods_each": n})
        res = wdd(tb, ta, cb, ca, db, da, weights=weights)
        _emit({"wdd": res}, inputs, as_json)

    @ev.command("wdq")
    def wdq_cmd(
        treated_before: float = typer.Option(None, "--treated-before"),
        treated_after: float = typer.Option(None, "--treated-after"),
        buffer_before: float = typer.Option(None, "--buffer-before"),
        buffer_after: float = typer.Option(None, "--buffer-after"),
        control_before: float = typer.Option(None, "--control-before"),
        control_after: float = typer.Option(None, "--control-after"),
        csv_path: Path = CsvOpt,
        force: str = ForceOpt,
        category: str = CatOpt,
        treated: list[str] = typer.Option(None, "--treated"),
        control: list[str] = typer.Option(None, "--control"),
        buffer: list[str] = typer.Option(None, "--buffer"),
        before: str = typer.Option(None, "--before"),
        after: str = typer.Option(None, "--after"),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Weighted displacement quotient (Bowers & Johnson 2003): displacement or diffusion."""
        from guardian.analysis.evaluation import wdq

        inputs: dict[str, Any] = {}
        if csv_path is None and force is None:
            vals = [treated_before, treated_after, buffer_before, buffer_after, control_before,
                    control_after]
            if any(v is None for v in vals):
                raise InputError("give all six counts (--treated-before ... --control-after), "
                                 "or --csv/--force with areas and periods")
        else:
            if not treated or not control or not buffer or not before or not after:
                raise InputError("with --csv/--force give --treated, --buffer, --control, "
                                 "--before and --after")
            df, inputs = _source(csv_path, force, category)
            b, a, n = _areas_and_periods(df, treated, control, buffer, before, after)
            vals = [_area_sum(df, treated, b), _area_sum(df, treated, a),
                    _area_sum(df, buffer, b), _area_sum(df, buffer, a),
                    _area_sum(df, control, b), _area_sum(df, control, a)]
            inputs.update({"treated": treated, "buffer": buffer, "control": control,
                           "before": list(b), "after": list(a), "periods_each": n})
        res = wdq(*vals, random_state=seed)
        _emit({"wdq": res}, inputs, as_json)

    @ev.command("etest")
    def etest_cmd(
        k1: int = typer.Option(None, "--k1", help="Count in the first period/place."),
        n1: float = typer.Option(None, "--n1", help="Exposure of the first (e.g. weeks)."),
        k2: int = typer.Option(None, "--k2"),
        n2: float = typer.Option(None, "--n2"),
        csv_path: Path = CsvOpt,
        force: str = ForceOpt,
        category: str = CatOpt,
        area: list[str] = typer.Option(None, "--area", help="Area(s) to compare (repeat)."),
        before: str = typer.Option(None, "--before"),
        after: str = typer.Option(None, "--after"),
        alternative: str = typer.Option("two-sided", "--alternative"),
        as_json: bool = JsonOpt,
    ) -> None:
        """Poisson E-test (Krishnamoorthy & Thomson 2004) and exact conditional test."""
        from guardian.analysis.evaluation import etest, exact_conditional

        inputs: dict[str, Any] = {}
        if csv_path is not None or force is not None:
            if not area or not before or not after:
                raise InputError("with --csv/--force give --area, --before and --after")
            df, inputs = _source(csv_path, force, category)
            b, a = _range(before, "--before"), _range(after, "--after")
            k1, k2 = _area_sum(df, area, b), _area_sum(df, area, a)
            n1, n2 = _n_periods(df, b), _n_periods(df, a)
            inputs.update({"area": area, "before": list(b), "after": list(a),
                           "exposure_unit": "periods"})
        if None in (k1, n1, k2, n2):
            raise InputError("give --k1 --n1 --k2 --n2, or --csv/--force with --area, --before "
                             "and --after")
        inputs.update({"k1": k1, "n1": n1, "k2": k2, "n2": n2})
        # exact conditional: the alternative is about lambda2/lambda1, the mirror of the E-test
        mirror = {"two-sided": "two-sided", "greater": "less", "less": "greater"}
        if alternative not in mirror:
            raise InputError("--alternative must be two-sided, greater or less")
        res = {"etest": etest(k1, n1, k2, n2, alternative=alternative),
               "exact_conditional": exact_conditional(k1, n1, k2, n2,
                                                      alternative=mirror[alternative])}
        _emit(res, inputs, as_json)

    @ev.command("did")
    def did_cmd(
        csv_path: Path = CsvOpt,
        force: str = ForceOpt,
        category: str = CatOpt,
        treated: list[str] = typer.Option(..., "--treated", help="Treated area (repeat)."),
        post_from: str = typer.Option(..., "--post-from", help="First period after the start."),
        start: str = typer.Option(None, "--from", help="First period used."),
        end: str = typer.Option(None, "--to", help="Last period used."),
        comparison: list[str] = typer.Option(None, "--comparison",
                                             help="Comparison area (repeat; default all)."),
        family: str = typer.Option("negbin", "--family", help="negbin or poisson."),
        synthetic: bool = typer.Option(False, "--synthetic",
                                       help="Also a synthetic comparison (one treated area)."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Difference-in-differences on counts (NB GLM with area and period effects)."""
        from guardian.analysis.evaluation import did_counts, synthetic_comparison

        df, inputs = _source(csv_path, force, category, start, end)
        df = df.groupby(["area", "period"], as_index=False)["count"].sum()
        if comparison:
            df = df[df["area"].isin(list(treated) + list(comparison))]
        post = sorted(p for p in df["period"].unique() if p >= post_from)
        res: dict[str, Any] = {"did": did_counts(df, treated_areas=treated, post_periods=post,
                                                 family=family)}
        if synthetic:
            if len(treated) != 1:
                raise InputError("--synthetic needs exactly one --treated area")
            res["synthetic"] = synthetic_comparison(df, treated_area=treated[0],
                                                    post_periods=post)
        inputs.update({"treated": treated, "post_from": post_from,
                       "areas": int(df["area"].nunique()),
                       "periods": int(df["period"].nunique())})
        _emit(res, inputs, as_json)

    @ev.command("trial")
    def trial_cmd(
        csv_path: Path = typer.Option(None, "--csv",
                                      help="Place-days: spot, day, arm, crimes[, harm]."),
        plan: list[str] = typer.Option(None, "--plan",
                                       help="Patrol plan id(s) in the store (random design)."),
        permutations: int = typer.Option(2000, "--permutations"),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = JsonOpt,
    ) -> None:
        """Randomised hot-spot trial: patrol vs control place-days, crime and harm."""
        from guardian.analysis.evaluation import hotspot_trial

        if (csv_path is None) == (not plan):
            raise InputError("give exactly one of --csv FILE or --plan ID")
        if csv_path is not None:
            if not csv_path.is_file():
                raise InputError(f"file {str(csv_path)!r} does not exist")
            days = pd.read_csv(csv_path)
            inputs: dict[str, Any] = {"source": str(csv_path)}
        else:
            days, inputs = place_days_from_plans(plan)
        res = hotspot_trial(days, n_permutations=permutations, random_state=seed,
                            harm="harm" if "harm" in days.columns else None)
        if as_json:
            out = res.to_dict()
            out["inputs"] = inputs
            typer.echo(json.dumps(out, indent=2, default=str))
            return
        make_console().print(escape(", ".join(f"{k}={v}" for k, v in
                                              {**inputs, **res.summary}.items())),
                             soft_wrap=True)
        _print_result(res.crime, "trial: crime")
        if res.harm is not None:
            _print_result(res.harm, "trial: harm")

    @ev.command("power")
    def power_cmd(
        rate: float = typer.Option(..., "--rate", help="Baseline crimes per cell per week."),
        cells: int = typer.Option(..., "--cells"),
        drop: float = typer.Option(0.2, "--drop", help="Fractional drop to detect (0.2)."),
        weeks: float = typer.Option(None, "--weeks", help="Weeks planned (default: solve)."),
        power: float = typer.Option(0.8, "--power"),
        alpha: float = typer.Option(0.05, "--alpha"),
        dispersion: float = typer.Option(0.0, "--dispersion",
                                         help="NB dispersion per cell-week (0 = Poisson)."),
        design: str = typer.Option("before-after", "--design",
                                   help="before-after, trial or control."),
        simulations: int = typer.Option(2000, "--simulations"),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = JsonOpt,
    ) -> None:
        """Weeks needed, power and minimum detectable effect (formula and simulation)."""
        from guardian.analysis.evaluation import minimum_detectable_effect, power_analysis

        solved = weeks is None
        res = power_analysis(rate, cells, drop, weeks=weeks, power=power, alpha=alpha,
                             dispersion=dispersion, design=design, n_simulations=simulations,
                             random_state=seed)
        mde = minimum_detectable_effect(rate, cells, res.weeks, power=power, alpha=alpha,
                                        dispersion=dispersion, design=design)
        out = res.to_dict()
        out["weeks_solved"] = solved
        out["target_power"] = power
        out["minimum_detectable_drop"] = None if mde != mde else mde
        if as_json:
            typer.echo(json.dumps(out, indent=2))
            return
        c = make_console()
        what = "needed" if solved else "planned"
        c.print(f"{cells} cells at {rate:g} crimes per cell-week, design {design} "
                f"(Maryland SMS {res.smms_level}), two-sided alpha {alpha:g}")
        c.print(f"weeks {what}: {res.weeks:g} to detect a {drop:.0%} drop")
        sim = ("" if res.power_simulated is None else
               f"; simulated {res.power_simulated:.3f} (95% CI {res.simulated_ci[0]:.3f}-"
               f"{res.simulated_ci[1]:.3f}, {res.n_simulations} runs, seed {seed})")
        c.print(f"power: formula {res.power_formula:.3f}{sim}")
        c.print("minimum detectable drop at "
                f"{power:.0%} power in {res.weeks:g} weeks: "
                + ("not reachable" if mde != mde else f"{mde:.1%}"))
        for a in res.assumptions:
            c.print(f"  - {escape(a)}", soft_wrap=True)

    @ev.command("cocoon")
    def cocoon_cmd(
        force: str = typer.Option(..., "--force", help="Dataset in the store."),
        start: str = typer.Option(None, "--from", help="First month (YYYY-MM)."),
        end: str = typer.Option(None, "--to", help="Last month (YYYY-MM)."),
        distance: float = typer.Option(200.0, "--distance", help="Near-repeat distance (m)."),
        days: float = typer.Option(14.0, "--days", help="Near-repeat window (days)."),
        stratum: str = typer.Option("quarter", "--stratum", help="quarter, month or none."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Near repeats after cocooned vs uncocooned burglaries (observational, SMS 2)."""
        from guardian.analysis.evaluation import cocoon_effect

        frame, inputs = burglaries_with_cocoons(force, start=start, end=end)
        if stratum not in ("quarter", "month", "none"):
            raise InputError("--stratum must be quarter, month or none")
        res = cocoon_effect(frame, distance_m=distance, days=days,
                            stratum=None if stratum == "none" else stratum)
        inputs.update({"distance_m": distance, "days": days, "stratum": stratum})
        _emit({"cocoon": res}, inputs, as_json)

    # ----------------------------------------------------------------------------------------
    # surveys

    def _load(file: Path, mapping: Path):
        from guardian.data.surveys import SurveyMapping, read_survey

        m = SurveyMapping.from_toml(mapping)
        return m, read_survey(file, m)

    def _write_quarantine(path: Path | None, rows) -> None:
        if path is None or not rows:
            return
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "reason", "raw"])
            for r in rows:
                w.writerow([r.line, r.reason, r.raw])

    @sv.command("check")
    def survey_check(
        file: Path = typer.Option(..., "--file", help="Survey responses CSV."),
        mapping: Path = typer.Option(..., "--mapping", help="Survey mapping TOML."),
        quarantine: Path = typer.Option(None, "--quarantine", help="Write refused rows here."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Validate a survey file: accepted rows, refused rows with reasons."""
        _, load = _load(file, mapping)
        _write_quarantine(quarantine, load.quarantined)
        out = load.summary()
        out["reasons"] = [{"line": r.line, "reason": r.reason} for r in load.quarantined[:50]]
        if as_json:
            typer.echo(json.dumps(out, indent=2))
            return
        c = make_console()
        c.print(f"rows read {out['rows_read']}: accepted {out['accepted']}, quarantined "
                f"{out['quarantined']}; waves {', '.join(out['waves'])}; "
                f"{out['districts']} districts")
        for r in out["reasons"]:
            c.print(f"  line {r['line']}: {escape(r['reason'])}", soft_wrap=True)

    @sv.command("estimate")
    def survey_estimate(
        file: Path = typer.Option(..., "--file", help="Survey responses CSV."),
        mapping: Path = typer.Option(..., "--mapping", help="Survey mapping TOML."),
        margins: Path = typer.Option(None, "--margins",
                                     help="Population CSV: district, sex, age_band, "
                                          "population."),
        wave: str = typer.Option(..., "--wave"),
        previous_wave: str = typer.Option(None, "--previous-wave"),
        method: str = typer.Option("rake", "--method", help="rake, poststratify or none."),
        district: str = typer.Option(None, "--district"),
        compare: list[str] = typer.Option(None, "--compare",
                                          help="QUESTION=PROPORTION benchmark (repeat)."),
        compare_label: str = typer.Option("the comparison figure of", "--compare-label"),
        quarantine: Path = typer.Option(None, "--quarantine", help="Write refused rows here."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Weighted estimates per district with 95% intervals and significant change."""
        from guardian.analysis.surveys import survey_results
        from guardian.data.surveys import read_margins

        m, load = _load(file, mapping)
        _write_quarantine(quarantine, load.quarantined)
        pop = None
        mq: list = []
        if margins is not None:
            pop, mq = read_margins(margins, age_bands=m.age_bands,
                                   sexes=tuple(m.sex_values))
        elif method != "none":
            raise InputError("--margins is required to weight (the bundled reference data has "
                             "population totals but no age-by-sex breakdown); or --method none")
        comps = {}
        for item in compare or []:
            q, _, v = item.partition("=")
            try:
                comps[q.strip()] = float(v)
            except ValueError:
                raise InputError(f"--compare {item!r}: expected QUESTION=0.75") from None
            if q.strip() not in load.questions:
                raise InputError(f"--compare: no question {q.strip()!r}; questions are "
                                 f"{', '.join(load.questions)}")
        results = survey_results(load.responses, load.questions, pop, wave=wave,
                                 previous_wave=previous_wave, comparison_values=comps,
                                 comparison_label=compare_label, method=method,
                                 district=district)
        out = {"summary": load.summary(), "margins_quarantined": len(mq),
               "weighting": method, "results": [r.to_dict() for r in results]}
        if as_json:
            typer.echo(json.dumps(out, indent=2))
            return
        c = make_console()
        s = out["summary"]
        c.print(f"{s['accepted']} respondents accepted, {s['quarantined']} quarantined; "
                f"weighting: {method}" + (f" to {margins.name}" if margins else ""))
        t = Table(title=f"Survey wave {wave}" + (f" vs {previous_wave}" if previous_wave
                                                 else ""))
        for col in ("district", "question", "%", "95% CI", "n", "n eff", "deff", "previous",
                    "change p"):
            t.add_column(col, justify="right" if col not in ("district", "question") else
                         "left")
        for r in results:
            e = r.estimate
            t.add_row(escape(r.district), escape(r.question), f"{e.proportion:.1%}",
                      f"{e.ci_low:.1%}-{e.ci_high:.1%}", str(e.n), f"{e.n_effective:.0f}",
                      f"{e.design_effect:.2f}",
                      f"{r.previous.proportion:.1%}" if r.previous else "-",
                      _p(r.change.p_value) if r.change else "-")
        c.print(t)
        for r in results:
            c.print(f"{escape(r.district)}: {escape(r.statement)}", soft_wrap=True)


def place_days_from_plans(plan_ids: list[str]) -> tuple[pd.DataFrame, dict]:
    """Spot x day table (arm, crimes, harm) of stored random-design patrol plans.

    Crimes are the plan's categories in the spot's cell on the day (local calendar); only
    events with a day-or-better time can be placed on a day, so a dataset with month-only
    times (police.uk) cannot be evaluated this way.
    """
    from guardian.data.harm_table import load_harm_weights
    from guardian.operations.patrols.service import get_plan
    from guardian.store.db import get_engine
    from guardian.store.events import events_frame

    engine = get_engine()
    rows = []
    used = []
    try:
        hw = load_harm_weights()
        for pid in plan_ids:
            p = get_plan(engine, plan_id=pid)
            if p["parameters"]["design"] != "random":
                raise InputError(f"plan {p['ref']} patrols every day: there are no control days "
                                 "to compare with")
            cell = float(p["parameters"]["cell_m"])
            week0, week1 = p["week_start"], p["week_end"]
            ev = events_frame(engine, dataset=p["dataset"],
                              categories=p["parameters"]["categories"] or None,
                              start_month=week0[:7], end_month=week1[:7])
            n_all = len(ev)
            ev = ev[(ev["time_precision"].astype(str) != "month") & ev["x"].notna()
                    & ev["y"].notna()]
            if n_all and ev.empty:
                raise InputError(f"{p['dataset']}: events have month-only times (police.uk), "
                                 "so they cannot be placed on patrol or control days; load a "
                                 "force extract with dates")
            day = ev["time"].dt.strftime("%Y-%m-%d")
            gx = (ev["x"] // cell).astype("int64")
            gy = (ev["y"] // cell).astype("int64")
            w = ev["category"].map(hw.weights).fillna(0.0)
            key = pd.DataFrame({"gx": gx, "gy": gy, "day": day, "harm": w})
            agg = key.groupby(["gx", "gy", "day"]).agg(crimes=("harm", "size"),
                                                        harm=("harm", "sum"))
            for s in p["spots"]:
                for arm, dlist in (("patrol", s["patrol_days"]), ("control", s["control_days"])):
                    for d in dlist:
                        k = (s["gx"], s["gy"], d)
                        c, h = (agg.loc[k, "crimes"], agg.loc[k, "harm"]) if k in agg.index \
                            else (0, 0.0)
                        rows.append({"spot": f"{p['ref']}#{s['rank']}", "day": d, "arm": arm,
                                     "crimes": int(c), "harm": float(h)})
            used.append(p["ref"])
    finally:
        engine.dispose()
    if not rows:
        raise InputError("the plans have no spot-days")
    return pd.DataFrame(rows), {"source": "store", "plans": used, "harm_table": hw.version}


DELIVERED = ("spoke", "advice")
"""Visit outcomes that count as a cocoon delivered to a household."""


def burglaries_with_cocoons(force: str, *, start: str | None, end: str | None
                            ) -> tuple[pd.DataFrame, dict]:
    """Dwelling burglaries of a dataset with ``cocooned`` = at least one delivered visit.

    A burglary is *cocooned* when it is a member of a cocoon and a visit planned because of it
    ended "spoke" or "advice". Burglaries with month-only times cannot be used (the near-repeat
    window is in days).
    """
    from sqlalchemy import select

    from guardian.operations.cocoons.models import CocoonMember, CocoonVisit
    from guardian.store.db import get_engine
    from guardian.store.events import events_frame
    from guardian.store.models import Dataset
    from guardian.store.status import resolve_dataset

    engine = get_engine()
    try:
        dataset = resolve_dataset(engine, force)
        ev = events_frame(engine, dataset=dataset, categories=["Burglary"], start_month=start,
                          end_month=end)
        with engine.connect() as conn:
            keys = set(conn.execute(
                select(CocoonMember.event_key).join(Dataset, CocoonMember.dataset_id == Dataset.id)
                .join(CocoonVisit, CocoonVisit.member_id == CocoonMember.id)
                .where(Dataset.name == dataset, CocoonVisit.outcome.in_(DELIVERED))
            ).scalars())
    finally:
        engine.dispose()
    n_all = len(ev)
    ev = ev[(ev["dwelling"].fillna(True).astype(bool)) & ev["x"].notna() & ev["y"].notna()]
    n_month = int((ev["time_precision"].astype(str) == "month").sum())
    ev = ev[ev["time_precision"].astype(str) != "month"]
    if ev.empty:
        raise InputError(f"{dataset}: no dwelling burglaries with a location and a date"
                         + (f" ({n_month} have month-only times)" if n_month else ""))
    t = (ev["time"] - ev["time"].min()) / pd.Timedelta(days=1)
    frame = pd.DataFrame({
        "x": ev["x"].to_numpy(float), "y": ev["y"].to_numpy(float),
        "t_days": t.to_numpy(float),
        "cocooned": ev["event_id"].astype(str).isin(keys).to_numpy(),
        "month": ev["month"].astype(str).to_numpy(),
        "quarter": (ev["time"].dt.year.astype(str) + "Q"
                    + ev["time"].dt.quarter.astype(str)).to_numpy(),
    })
    info = {"source": f"store:{dataset}", "dataset": dataset, "burglaries": n_all,
            "used": int(len(frame)), "cocooned": int(frame["cocooned"].sum()),
            "month_only_times": n_month, "delivered_outcomes": list(DELIVERED)}
    return frame, info
