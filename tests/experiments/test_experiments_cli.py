"""``twin sweep``, ``twin compare`` and ``twin report`` as a planner uses them: one clear line for a
mistake (exit code 2, nothing written), a folder path on stdout when it worked, and one
self-contained HTML page that compares runs, options and sweeps."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import app

runner = CliRunner()


def twin(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, [str(a) for a in args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "counter.speed=1:2"], "error: --param counter.speed: 'speed' is not a parameter of counter"),
        (["--param", "rate=1:2"], "error: --param with a range needs a design: --grid N, --lhs N or --morris R"),
        (["--param", "rate=1:2", "--grid", "2", "--lhs", "3"], "error: --grid and --lhs: choose one design"),
        (["--reps", "many"], "error: --reps: 'many' is not an integer"),
        (["--reps", "0"], "error: --reps: 0 is not a number of replications (at least 1)"),
        (["--grid", "0", "--param", "rate=1:2"], "error: --grid: 0 is not allowed (at least 1)"),
        (["--workers", "-2"], "error: --workers: -2 is not allowed (at least 0)"),
        (["--scale", "2"], "error: --scale: population.scale: 2.0 is not in (0, 1]"),
        (["--cluster", "localhost:8786"], "error: --cluster: 'localhost:8786' is not a scheduler address"),
        (["--cluster", "tcp://127.0.0.1:1", "--local-cluster"], "error: --cluster and --local-cluster: choose one"),
    ],
)
def test_sweep_mistakes_are_one_clear_error_and_nothing_runs(
    toy_file: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = twin("sweep", toy_file, "--workers", "0", *args, "--out", tmp_path / "out")
    assert code == 2
    assert err.startswith(message), err
    assert out == ""
    assert not (tmp_path / "out").exists()


def test_the_payout_scenario_params_are_checked_by_name(tmp_path: Path) -> None:
    code, _, err = twin(
        "sweep", "scenarios/payout_2020.yaml", "--param", "verification.staff_minutes=1:2", "--grid", "2",
        "--out", tmp_path,
    )  # fmt: skip
    assert code == 2
    assert "'staff_minutes' is not a parameter of verification (allowed: online_matching, " in err
    assert "staff_minutes_per_1000_households" in err


def test_sweep_compare_and_report_end_to_end(toy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = twin("sweep", toy_file, "--reps", "5", "--series", "backlog", "--workers", "0", "--out", out)
    assert code == 0, err
    reps = Path(stdout.strip())
    assert reps.parent == out / "xp_toy" and (reps / "results.parquet").exists()
    assert "computed 5, already done 0" in err and "peak_backlog" in err
    code, stdout, err = twin(
        "sweep", toy_file, "--param", "rate=1:3", "--param", "counter.staff=2:6", "--morris", "3", "--reps", "2",
        "--workers", "0", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    morris = Path(stdout.strip())
    assert len(pd.read_parquet(morris / "points.parquet")) == 9

    code, stdout, err = twin("compare", reps, morris, "--out", tmp_path / "cmp.csv")
    assert code == 0, err
    assert "peak_backlog" in stdout and "more_staff" in stdout
    long = pd.read_csv(tmp_path / "cmp.csv")
    assert {"source", "point", "option", "metric", "n", "q10", "q50", "q90"} <= set(long.columns)
    assert set(long.option) == {"base", "more_staff"}  # the summary's scale is context, not compared

    code, stdout, err = twin("report", reps, morris, "--out", tmp_path / "page", "--title", "Counter staffing")
    assert code == 0, err
    page = Path(stdout.strip())
    html = page.read_text()
    assert page == tmp_path / "page" / "index.html"
    for heading in (
        "What is compared", "Headline numbers", "each option minus base, replication by replication",
        "Figures with uncertainty bands",
        "Along the sweep", "Series over time", "which parameters matter (Morris screening)", "Assumptions",
        "Manifests", "Data sources",
    ):  # fmt: skip
        assert f"{heading}</h2>" in html, heading
    assert "<title>Counter staffing</title>" in html and "a toy source" in html
    assert "src='http" not in html and "href='http" not in html  # self-contained: figures are embedded
    assert len(re.findall(r"data:image/png;base64,", html)) == len(list((tmp_path / "page" / "figures").glob("*.png")))


def test_compare_accepts_run_folders_too(toy_file: Path, tmp_path: Path) -> None:
    import twin as tw

    run = tw.run(toy_file, out=tmp_path / "runs")
    code, stdout, err = twin("compare", run.path)
    assert code == 0, err
    assert "base" in stdout and "more_staff" in stdout
    code, stdout, err = twin("report", run.path, "--series", "backlog", "--out", tmp_path / "page")
    assert code == 0, err
    html = Path(stdout.strip()).read_text()
    assert "Series over time</h2>" in html and "rate" in html


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nothing", "is no such folder"),
        (lambda p: p, "not a run or sweep folder (no manifest.json)"),
    ],
)
def test_compare_and_report_refuse_what_is_not_a_run(tmp_path: Path, make, message: str) -> None:  # noqa: ANN001
    target = make(tmp_path)
    for command in ("compare", "report"):
        code, _, err = twin(command, target)
        assert code == 2
        assert message.removeprefix("is ") in err


def test_report_names_an_unknown_metric(toy_file: Path, tmp_path: Path) -> None:
    code, stdout, _ = twin("sweep", toy_file, "--reps", "2", "--workers", "0", "--out", tmp_path / "out")
    code, _, err = twin("report", stdout.strip(), "--metric", "happiness", "--out", tmp_path / "page")
    assert code == 2
    assert err.startswith("error: --metric happiness: not a headline metric of these inputs (known: arrivals,")
