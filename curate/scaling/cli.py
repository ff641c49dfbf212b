"""`curate fit`: a thin click layer over `curate.scaling`; the main CLI adds it with main.add_command(fit)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from curate.errors import ConfigError, CurateError
from curate.scaling.fit import FitResult, fit_law
from curate.scaling.io import drop_highest, read_table, runs_from_frame
from curate.scaling.laws import LAW_NAMES
from curate.scaling.optimal import optimal_table


def parse_grid(specs: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """`AXIS=LO:HI:STEP` or `AXIS=v1,v2,...` -> {axis: values}."""
    grid = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        try:
            if ":" in values:
                lo, hi, step = (float(v) for v in values.split(":"))
                if step <= 0 or hi < lo:
                    raise ValueError
                grid[name.strip()] = tuple(np.round(np.arange(lo, hi + step / 2, step), 12))
            else:
                grid[name.strip()] = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise ConfigError(
                f"Bad --grid {spec!r}; write AXIS=LO:HI:STEP (e.g. alpha=0:2:0.5) or AXIS=v1,v2."
            ) from None
    return grid


@click.command("fit")
@click.argument("runs", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--law", type=click.Choice(LAW_NAMES), default="chinchilla", show_default=True, help="Law to fit."
)
@click.option(
    "--query",
    help="One read-only DuckDB SELECT returning the runs; it may read the data files it names. RUNS, if "
    "given, is the database file to open (read-only).",
)
@click.option("--params-col", default="params", show_default=True, help="Column of model parameters N.")
@click.option("--tokens-col", default="tokens", show_default=True, help="Column of training tokens D.")
@click.option("--loss-col", default="loss", show_default=True, help="Column of held-out loss (nats/token).")
@click.option(
    "--quality-col", default="quality", show_default=True, help="Column of Q in (0, 1] (quality, fixed-n)."
)
@click.option("--group-col", default="group", show_default=True, help="Column of group labels (multiplier).")
@click.option(
    "--reference-group", help="Group whose multiplier is fixed to 1 [default: the group with most runs]."
)
@click.option(
    "--drop-highest",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Drop the K highest-loss runs before fitting.",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Bootstrap resamples for the intervals (0: none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option(
    "--delta", type=float, default=1e-3, show_default=True, help="Huber delta on log-loss residuals."
)
@click.option(
    "--ci-level", type=float, default=0.95, show_default=True, help="Level of the bootstrap intervals."
)
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    metavar="AXIS=LO:HI:STEP",
    help="Override a start-grid axis (e, a, b, alpha, beta, gamma); repeatable.",
)
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="L-BFGS iterations per start.",
)
@click.option(
    "--compute", type=float, multiple=True, help="FLOP budget C for compute-optimal N*, D*; repeatable."
)
@click.option(
    "--at-quality", type=float, default=1.0, show_default=True, help="Q for --compute and plots (quality)."
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PNG and SVG plots into this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def fit(ctx: click.Context, runs: Path | None, **options) -> None:
    """Fit a scaling law to a table of training runs (CSV, Parquet or a DuckDB query).

    Laws: chinchilla L = E + A/N^alpha + B/D^beta; quality L = E + A/N^alpha + B/(D^beta Q^gamma);
    fixed-n L = E_plus + B/(D^beta Q^gamma) for one model size; multiplier L = [E + A/N^alpha | E_plus] +
    B/(D m_g)^beta with a data multiplier m_g per group (m = 1 for the reference group).

    The fit is Hoffmann et al.'s approach 3: Huber loss (--delta) on log-loss residuals, summed over runs,
    L-BFGS from every start of a grid (4,500 starts for Chinchilla), best objective wins; intervals come
    from a seeded bootstrap over runs. Warnings flag fits on the grid boundary and poorly identified
    parameters. Exit code 2 means a problem with the input or options.

    \b
    Example:
      curate fit chinchilla_runs.csv --drop-highest 5 --compute 1e21 --json
    """
    try:
        result = _run(runs, **options)
    except CurateError as exc:
        if ctx.parent is not None:  # under `curate`: its group reports errors in one place
            raise
        click.echo(f"curate: error: {exc}", err=True)
        ctx.exit(exc.exit_code)
    if options["as_json"]:
        click.echo(json.dumps(result["json"], indent=2))
    else:
        click.echo(format_table(result["fit"], result["json"]))


def _run(runs_path: Path | None, **o) -> dict:
    law = o["law"]
    if o["at_quality"] != 1.0 and law != "quality":
        raise ConfigError("--at-quality applies only to --law quality; drop it or switch law.")
    if not 0 < o["at_quality"] <= 1:
        raise ConfigError(f"--at-quality must lie in (0, 1], got {o['at_quality']}; e.g. --at-quality 0.8.")
    if o["compute"] and law == "fixed-n":
        raise ConfigError("--compute needs a law with a model-size term; the fixed-n law has none.")
    frame = read_table(runs_path, o["query"])
    runs = runs_from_frame(
        frame, o["params_col"], o["tokens_col"], o["loss_col"],
        quality=o["quality_col"] if law in ("quality", "fixed-n") else None,
        group=o["group_col"] if law == "multiplier" else None,
    )  # fmt: skip
    runs = drop_highest(runs, o["drop_highest"])
    result = fit_law(
        runs, law, delta=o["delta"], grid=parse_grid(o["grid_specs"]), bootstrap=o["bootstrap"],
        seed=o["seed"], ci_level=o["ci_level"], reference_group=o["reference_group"], max_iter=o["max_iter"],
    )  # fmt: skip
    out = result.to_dict()
    out["dropped_highest"] = o["drop_highest"]
    if o["compute"]:
        out["compute_optimal"] = optimal_table(result, list(o["compute"]), o["at_quality"])
    if o["plot_dir"] is not None:
        from curate.scaling.plots import plot_fit

        out["plots"] = [str(p) for p in plot_fit(result, runs, o["plot_dir"], o["at_quality"])]
    return {"fit": result, "json": out}


def format_table(result: FitResult, out: dict) -> str:
    """The human-readable report: header, parameter table, compute-optimal table, warnings."""
    level = f"{result.ci_level:.0%} CI"
    lines = [
        f"law        {result.law}: {result.design.formula}",
        f"runs       {result.n} (dropped the {out['dropped_highest']} highest-loss)",
        f"objective  {result.objective:.6g} (Huber delta={result.delta:g}, summed)",
        f"residuals  RMSE {result.residuals['rmse_log']:.4g}, max |r| {result.residuals['max_abs_log']:.4g}"
        " (log-loss)",
        f"starts     {result.n_starts} ({result.n_converged} converged, {result.n_at_best} at the best), "
        f"{result.seconds:.1f} s",
        "",
        f"{'parameter':<22}{'estimate':>12}  {level:<26}{'s.e.':>10}",
    ]
    for name, value in result.params.items():
        ci = result.ci.get(name)
        ci_text = f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "-"
        se = f"{result.se[name]:.3g}" if name in result.se else "-"
        lines.append(f"{name:<22}{value:>12.5g}  {ci_text:<26}{se:>10}")
    if "compute_optimal" in out:
        lines += ["", f"compute-optimal (C = 6 N D){'':<4}{'N*':>10}{'D*':>11}{'D*/N*':>8}{'loss':>8}"]
        for row in out["compute_optimal"]:
            label = f"C={row['compute']:.3g}" + (f" [{row['group']}]" if "group" in row else "")
            numbers = f"{row['N']:>10.3g}{row['D']:>11.3g}{row['tokens_per_param']:>8.1f}{row['loss']:>8.3f}"
            lines.append(f"  {label:<29}{numbers}")
    if result.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in result.warnings]
    if "plots" in out:
        lines += ["", "plots: " + ", ".join(out["plots"])]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(fit())
