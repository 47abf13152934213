"""``twin sweep``, ``twin compare`` and ``twin report``: experiments from the command line.

A planner runs a scenario many times (``twin sweep``), puts runs and sweeps side by side in the
terminal (``twin compare``) and hands the working group one HTML page (``twin report``). The
commands are plain functions; :mod:`twin.cli` registers each one at the top level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twin.errors import InputError, TwinError


def _cli():  # noqa: ANN202 (twin.cli imports this module while it is being built: look it up late)
    from twin import cli

    return cli


def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML), e.g. scenarios/payout_2020.yaml")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="NAME=LO:HI to sweep (NAME is a dotted path into params, e.g. "
            "verification.staff_minutes_per_1000_households=120:480) or NAME=VALUE to hold; repeatable.",
        ),
    ] = None,
    grid: Annotated[str | None, typer.Option(help="Full grid with N levels per swept param.")] = None,
    lhs: Annotated[str | None, typer.Option(help="Latin hypercube with N points.")] = None,
    morris: Annotated[str | None, typer.Option(help="Morris screening with R trajectories (R (k+1) points).")] = None,
    reps: Annotated[str, typer.Option(help="Replications per point (common random numbers across points).")] = "1",
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Metric series to keep besides the headline numbers.")
    ] = None,
    workers: Annotated[
        str | None, typer.Option(help="Local worker processes (default: all cores; 0: in-process).")
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="An existing Dask scheduler, e.g. tcp://10.0.0.5:8786.")] = None,
    local_cluster: Annotated[bool, typer.Option("--local-cluster", help="Start a Dask LocalCluster.")] = False,
    seed: Annotated[str | None, typer.Option(help="Override the scenario's seed (an integer >= 0).")] = None,
    scale: Annotated[str | None, typer.Option(help="Override population.scale, in (0, 1].")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for sweep folders.")] = Path("reports"),
) -> None:
    """Run replications or a parameter sweep; resumes an interrupted one; prints the sweep folder."""
    from twin import experiments
    from twin import scenario as sc
    from twin.experiments.analysis import headline_table

    cli = _cli()
    num = cli.parse_number
    try:
        s = sc.load(scenario)
        reps_n = int(num("--reps", reps, int))
        for opt, v in (("--grid", grid), ("--lhs", lhs), ("--morris", morris), ("--workers", workers)):
            n = num(opt, v, int)
            if n is not None and n < (0 if opt == "--workers" else 1):
                raise InputError(f"{opt}: {n} is not allowed (at least {0 if opt == '--workers' else 1})")
        result = experiments.sweep(
            s,
            param or [],
            grid=num("--grid", grid, int),  # type: ignore[arg-type]
            lhs=num("--lhs", lhs, int),  # type: ignore[arg-type]
            morris=num("--morris", morris, int),  # type: ignore[arg-type]
            reps=reps_n,
            series=series or [],
            seed=num("--seed", seed, int),  # type: ignore[arg-type]
            scale=num("--scale", scale, float),
            workers=num("--workers", workers, int),  # type: ignore[arg-type]
            cluster=cluster,
            local_cluster=local_cluster,
            out=out_dir,
            progress=cli.rich_progress,
        )
    except TwinError as e:
        raise cli.fail(e) from None
    m = result.manifest
    cli.err.print(
        f"[green]done[/] {m['scenario']['name']}: {m['points']} point(s) x {m['replications']} replication(s) "
        f"on {m['executor']}; computed {result.computed}, already done {result.cached}; {result.wall_s:.1f} s",
        soft_wrap=True,
    )
    if m["points"] == 1:
        _print_frame(headline_table(result.bands), "Headline numbers: median [10 %, 90 %]")
    cli.out.print(str(result.path), highlight=False, soft_wrap=True)


def compare(
    folders: Annotated[list[Path], typer.Argument(help="Run folders and/or sweep folders.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the long comparison table (.csv or .parquet).")
    ] = None,
) -> None:
    """Compare runs, options and sweeps: headline numbers as median [10 %, 90 %] over replications."""
    from twin.experiments.analysis import band_text
    from twin.experiments.collect import comparison, load_sources

    cli = _cli()
    try:
        comp = comparison(load_sources(folders))
        if out_file is not None:
            if out_file.suffix not in (".csv", ".parquet"):
                raise InputError(f"--out {out_file}: is not a .csv or .parquet file name")
            long = comp.drop(columns=["column"])
            if out_file.suffix == ".csv":
                long.to_csv(out_file, index=False)
            else:
                long.to_parquet(out_file, index=False)
    except TwinError as e:
        raise cli.fail(e) from None
    import pandas as pd

    if comp.empty:
        cli.err.print("no headline numbers in these folders (their summaries hold no numbers)")
        return
    cells = comp.assign(cell=[band_text(r.q10, r.q50, r.q90).replace(" [", "\n[") for r in comp.itertuples()])
    items = list(dict.fromkeys(comp["column"]))
    metrics = list(dict.fromkeys(comp["metric"]))
    wide = cells.pivot_table(index="metric", columns="column", values="cell", aggfunc="first", sort=False)
    wide = wide.reindex(index=metrics, columns=items)
    # a row per metric; as many inputs side by side as the terminal holds, then the next table
    per = max(1, (cli.out.width - max(len(m) for m in metrics) - 4) // 26)
    for start in range(0, len(items), per):
        part = pd.DataFrame(wide.iloc[:, start : start + per]).reset_index()
        _print_frame(part, "Headline numbers: median [10 %, 90 %]", stdout=True)
    if out_file is not None:
        cli.out.print(str(out_file), highlight=False, soft_wrap=True)


def report(
    folders: Annotated[list[Path], typer.Argument(help="Run folders and/or sweep folders to compare.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: reports/compare-<hash>).")
    ] = None,
    title: Annotated[str, typer.Option(help="Title of the page.")] = "Comparison",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Headline metrics to plot (default: those that vary).")
    ] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Series of run folders to plot (sweeps keep their own).")
    ] = None,
    screenshot: Annotated[
        bool, typer.Option("--screenshot", help="Also save screenshot-1280.png beside it (headless Chromium).")
    ] = False,
) -> None:
    """One self-contained HTML page comparing runs or options, with 10/50/90 % bands; prints its path."""
    from twin.experiments.collect import load_sources
    from twin.report import compare as page

    cli = _cli()
    try:
        if screenshot:
            from twin.report.browser import find_chromium

            find_chromium()  # before anything is read or written
        sources = load_sources(folders, series or [])
        known = set().union(*(set(s.results["metric"]) for s in sources))
        for m in metric or []:
            if m not in known:
                raise InputError(
                    f"--metric {m}: not a headline metric of these inputs (known: {', '.join(sorted(known))})"
                )
        target = out_dir or page.default_folder(sources)
        path = page.build(sources, target, title=title, metrics=metric or [])
        if screenshot:
            cli.save_screenshot(path)
    except TwinError as e:
        raise cli.fail(e) from None
    cli.out.print(str(path), highlight=False, soft_wrap=True)


def _print_frame(df, title: str, *, stdout: bool = False) -> None:  # noqa: ANN001 (pandas.DataFrame)
    from rich.table import Table
    from rich.text import Text

    cli = _cli()
    t = Table(title=title)
    for c in df.columns:
        t.add_column(Text(str(c) or "(all)"), overflow="fold")
    for row in df.itertuples(index=False):
        t.add_row(*(Text("–" if v is None or (isinstance(v, float) and v != v) else str(v)) for v in row))
    (cli.out if stdout else cli.err).print(t)


COMMANDS = [sweep, compare, report]
