"""The runner: replications draw fresh streams, options share them (common random numbers), results
are the same bytes on any executor, finished work is never redone, and a killed sweep resumes to
exactly what an uninterrupted one gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from xp_helpers import HERE, group_processes, venv_env, write_toy

from twin import experiments as xp
from twin.errors import InputError
from twin.experiments.task import flatten_summary


def results_bytes(sweep: xp.Sweep) -> bytes:
    return (sweep.path / "results.parquet").read_bytes()


def test_replications_differ_and_options_share_their_streams(toy_file: Path, tmp_path: Path) -> None:
    sw = xp.replicate(toy_file, 6, series=["arrivals"], workers=0, out=tmp_path / "out")
    r = sw.results
    arrivals = r[(r.origin == "summary") & (r.metric == "arrivals")].pivot(
        index="replication", columns="option", values="value"
    )
    assert arrivals["base"].nunique() == 6  # every replication has its own streams
    assert (arrivals["base"] == arrivals["more_staff"]).all()  # ... shared by the options (CRN)
    peak = r[(r.origin == "summary") & (r.metric == "peak_backlog")].pivot(
        index="replication", columns="option", values="value"
    )
    assert (peak["more_staff"] <= peak["base"]).all()  # more staff never leaves a larger backlog on the same days
    series = r[r.origin == "metrics"]
    assert set(series.metric) == {"arrivals"} and series.time.notna().all()
    assert len(series) == 6 * 2 * 30


def test_points_share_the_streams_of_a_replication(toy_file: Path, tmp_path: Path) -> None:
    sw = xp.sweep(toy_file, ["counter.staff=2:8"], grid=4, reps=3, workers=0, out=tmp_path / "out")
    r = sw.results
    arrivals = r[(r.metric == "arrivals") & (r.option == "base")].pivot(
        index="replication", columns="point", values="value"
    )
    assert arrivals.shape == (3, 4)
    assert (arrivals.nunique(axis=1) == 1).all()  # staff does not change arrivals: same draws at every point
    assert list(sw.points["counter.staff"]) == [2.0, 4.0, 6.0, 8.0]


def test_bands_come_with_the_sweep_and_match_numpy(toy_file: Path, tmp_path: Path) -> None:
    sw = xp.replicate(toy_file, 9, workers=0, out=tmp_path / "out")
    r = sw.results
    v = r[(r.metric == "peak_backlog") & (r.option == "base")].value.to_numpy()
    h = sw.headline()
    row = h[(h.metric == "peak_backlog") & (h.option == "base")].iloc[0]
    assert row.n == 9
    assert row.q10 == pytest.approx(np.quantile(v, 0.1))
    assert row.q50 == pytest.approx(np.median(v))
    assert row.q90 == pytest.approx(np.quantile(v, 0.9))


def test_the_sweep_folder_holds_results_design_bands_provenance_and_manifest(toy_file: Path, tmp_path: Path) -> None:
    sw = xp.sweep(toy_file, ["rate=1:3"], grid=2, reps=2, workers=0, out=tmp_path / "out")
    names = {p.name for p in sw.path.iterdir()}
    assert {"manifest.json", "results.parquet", "points.parquet", "bands.parquet", "provenance.json"} <= names
    assert len(list((sw.path / "tasks").glob("*.parquet"))) == 4
    m = sw.manifest
    assert m["experiment"] == "sweep" and m["points"] == 2 and m["replications"] == 2
    assert m["params"] == ["rate=1:3"] and m["design"] == {"kind": "grid", "levels": 2}
    assert m["replication_seconds_total"] > 0 and m["replication_cpu_seconds_total"] > 0
    assert m["git_commit"] is not None and len(m["code_fingerprint"]) == 16
    rate = {"name": "rate", "value": "1.0", "source": None}  # from point 0, replication 0
    assert sw.provenance == {"sources": ["a toy source"], "assumptions": [rate]}
    # the merged file has one row group per point, in point order
    meta = pq.ParquetFile(sw.path / "results.parquet").metadata
    assert meta.num_row_groups == 2
    assert meta.schema.to_arrow_schema().metadata is None


def test_a_rerun_computes_nothing_and_changes_no_byte(toy_file: Path, tmp_path: Path) -> None:
    first = xp.sweep(toy_file, ["rate=1:3"], grid=3, reps=2, workers=0, out=tmp_path / "out")
    again = xp.sweep(toy_file, ["rate=1:3"], grid=3, reps=2, workers=0, out=tmp_path / "out")
    assert (first.computed, first.cached) == (6, 0)
    assert (again.computed, again.cached) == (0, 6)
    assert again.path == first.path
    assert results_bytes(again) == results_bytes(first)
    more = xp.sweep(toy_file, ["rate=1:3"], grid=3, reps=3, workers=0, out=tmp_path / "out")
    assert more.path != first.path  # a different plan is a different sweep folder


def test_a_different_seed_or_scale_is_different_work(toy_file: Path, tmp_path: Path) -> None:
    a = xp.replicate(toy_file, 2, workers=0, out=tmp_path / "out")
    b = xp.replicate(toy_file, 2, workers=0, out=tmp_path / "out", seed=8)
    c = xp.replicate(toy_file, 2, workers=0, out=tmp_path / "out", scale=0.02)
    assert len({a.path, b.path, c.path}) == 3
    assert b.manifest["seed"] == 8 and c.manifest["scale"] == 0.02
    assert results_bytes(a) != results_bytes(b)


@pytest.mark.slow
def test_one_process_two_processes_and_in_process_give_the_same_bytes(toy_file: Path, tmp_path: Path) -> None:
    args = (toy_file, ["rate=1:3", "counter.minutes_per_form=2:4"])
    kw = {"lhs": 5, "reps": 3, "series": ["backlog"]}
    inline = xp.sweep(*args, **kw, workers=0, out=tmp_path / "inline")
    with xp.LocalExecutor(2, window=3) as two:  # a small window: results arrive out of order
        double = xp.sweep(*args, **kw, executor=two, out=tmp_path / "two")
    with xp.LocalExecutor(1) as one:
        single = xp.sweep(*args, **kw, executor=one, out=tmp_path / "one")
    assert single.workers == 1 and double.workers == 2 and double.computed == single.computed == 15
    assert results_bytes(inline) == results_bytes(single) == results_bytes(double)
    assert (inline.path / "bands.parquet").read_bytes() == (double.path / "bands.parquet").read_bytes()


def test_a_script_started_by_the_tests_runs_the_twin_the_test_imported(toy_kind: str, tmp_path: Path) -> None:
    """The killed sweep below resumes, in this process, what a CLI subprocess started: both must compute
    the same task keys, so both must import the same twin (a worktree sharing another checkout's venv
    imported that checkout's twin, and the resumed sweep found none of the CLI's work)."""
    import twin
    from twin.experiments.task import code_fingerprint

    script = tmp_path / "where.py"  # run as a script, like xp_cli_main.py: its folder, not the cwd, is on the path
    script.write_text("import twin\nfrom twin.experiments.task import code_fingerprint\n"
                      "print(twin.__file__)\nprint(code_fingerprint('xp_toy_model'))\n")  # fmt: skip
    r = subprocess.run([sys.executable, str(script)], env=venv_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [twin.__file__, code_fingerprint("xp_toy_model")]


@pytest.mark.slow
def test_a_killed_sweep_resumes_only_the_missing_work_and_ends_as_an_uninterrupted_one(
    toy_kind: str, tmp_path: Path
) -> None:
    scen = write_toy(tmp_path / "xp_toy.yaml", sleep_s=0.25)
    out = tmp_path / "killed"
    cmd = [sys.executable, str(HERE / "xp_cli_main.py"), "sweep", str(scen), "--param", "rate=1:3"]
    cmd += ["--grid", "4", "--reps", "3", "--workers", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=venv_env(), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tasks = out / "xp_toy"
    try:
        deadline = time.monotonic() + 60
        while len(list(tasks.glob("sweep-*/tasks/*.parquet"))) < 4:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sweep wrote no results within a minute"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI (and any process it started), without warning
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while group_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_processes(proc.pid) == []
    folder = next(tasks.glob("sweep-*"))
    assert not (folder / "results.parquet").exists()
    done = len(list((folder / "tasks").glob("*.parquet")))
    assert 4 <= done < 12

    resumed = xp.sweep(scen, ["rate=1:3"], grid=4, reps=3, workers=0, out=out)
    assert resumed.path == folder
    assert (resumed.cached, resumed.computed) == (done, 12 - done)
    assert not list((folder / "tasks").glob(".*.tmp"))
    fresh = xp.sweep(scen, ["rate=1:3"], grid=4, reps=3, workers=0, out=tmp_path / "fresh")
    assert fresh.computed == 12
    assert results_bytes(resumed) == results_bytes(fresh)


def test_a_worker_error_reaches_the_caller_and_keeps_finished_work(
    toy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xp_toy_model

    real = xp_toy_model.run

    def failing(ctx):  # noqa: ANN001, ANN202
        if ctx.replication == 2:
            raise RuntimeError("the counter caught fire")
        return real(ctx)

    monkeypatch.setattr(xp_toy_model, "run", failing)
    with pytest.raises(RuntimeError, match="caught fire"):
        xp.replicate(toy_file, 4, workers=0, out=tmp_path / "out")
    folder = next((tmp_path / "out" / "xp_toy").glob("sweep-*"))
    assert len(list((folder / "tasks").glob("*.parquet"))) == 2  # replications 0 and 1 are kept
    monkeypatch.setattr(xp_toy_model, "run", real)
    sw = xp.replicate(toy_file, 4, workers=0, out=tmp_path / "out")
    assert (sw.cached, sw.computed) == (2, 2)


def test_bad_plans_are_refused_before_anything_runs(toy_file: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--reps: 0 is not a number of replications"):
        xp.replicate(toy_file, 0, workers=0, out=tmp_path / "out")
    with pytest.raises(InputError, match="--workers: -1 is not a number of worker processes"):
        xp.LocalExecutor(-1)
    with pytest.raises(InputError, match="--cluster and --local-cluster: choose one"):
        xp.make_executor(cluster="tcp://127.0.0.1:1", local_cluster=True)
    with pytest.raises(InputError, match="--cluster: 'localhost:8786' is not a scheduler address"):
        xp.make_executor(cluster="localhost:8786")
    assert not (tmp_path / "out").exists()


def test_summaries_flatten_to_option_metric_value() -> None:
    summary = {
        "scale": 0.01,
        "fidelity": "aggregate",
        "options": {"a": {"days": 3, "paid": {"mail": 2.5}}, "b": {"days": float("nan")}},
        "flags": [1, 2],
        "ok": True,
    }
    rows = flatten_summary(summary, ["a", "b"])
    assert rows[:4] == [("", "ok", 1.0), ("a", "days", 3.0), ("a", "paid.mail", 2.5), ("b", "days", rows[3][2])]
    assert np.isnan(rows[3][2]) and rows[4] == ("", "scale", 0.01)
    assert len(rows) == 5  # text and lists are not headline numbers


def test_the_tidy_results_have_fixed_columns_and_types(toy_file: Path, tmp_path: Path) -> None:
    sw = xp.replicate(toy_file, 2, series=["backlog"], workers=0, out=tmp_path / "out")
    r = sw.results
    assert list(r.columns) == ["point", "replication", "option", "origin", "metric", "labels", "time", "value"]
    assert r.time.dtype.kind == "M" and r.value.dtype == "float64"
    assert isinstance(r, pd.DataFrame) and set(r.origin) == {"summary", "metrics"}


def test_replication_zero_of_a_sweep_is_the_plain_run(toy_file: Path, tmp_path: Path) -> None:
    import twin

    run = twin.run(toy_file, out=tmp_path / "runs")
    sw = xp.replicate(toy_file, 3, workers=0, out=tmp_path / "out")
    r = sw.results
    rep0 = r[(r.replication == 0) & (r.origin == "summary") & (r.option != "")]
    heads = run.summary["options"]  # summary.json is strict JSON: an undefined number is null there
    assert {(o, m): v for o, m, v in zip(rep0.option, rep0.metric, rep0.value, strict=True)} == pytest.approx(
        {(o, m): (float("nan") if v is None else v) for o in heads for m, v in heads[o].items()}, nan_ok=True
    )


def test_a_calibration_can_run_any_points_through_the_same_runner(toy_file: Path, tmp_path: Path) -> None:
    from twin import scenario as sc

    toy = sc.load(toy_file)
    points = ({"rate": 1.0, "counter.staff": 3}, {"rate": 2.5, "counter.staff": 3}, {"rate": 1.0, "counter.staff": 3})
    plan = xp.Plan(toy, points, replications=2, design={"kind": "calibration", "iteration": 1})
    sw = xp.run_plan(plan, out=tmp_path / "out", executor=xp.InlineExecutor())
    assert (sw.computed, sw.cached) == (4, 0)  # the repeated point is computed once
    assert sw.points.to_dict("list") == {"point": [0, 1, 2], "rate": [1.0, 2.5, 1.0], "counter.staff": [3.0] * 3}
    h = sw.headline()
    arrivals = h[(h.metric == "arrivals") & (h.option == "base")].set_index("point")["q50"]
    assert arrivals[0] == arrivals[2] < arrivals[1]


@pytest.mark.slow
def test_a_worker_process_that_dies_is_a_clear_error_and_finished_work_is_kept(toy_kind: str, tmp_path: Path) -> None:
    from twin.errors import TwinError

    scen = tmp_path / "xp_toy.yaml"
    scen.write_text(write_toy(scen).read_text().replace("sleep_s: 0.0", "sleep_s: 0.0, die_in_replication: 2"))
    with xp.LocalExecutor(1) as one, pytest.raises(TwinError, match="a worker process died .* run the sweep again"):
        xp.replicate(scen, 4, executor=one, out=tmp_path / "out")
    folder = next((tmp_path / "out" / "xp_toy").glob("sweep-*"))
    assert len(list((folder / "tasks").glob("*.parquet"))) == 2  # one worker: replications 0 and 1 came first
    assert not (folder / "results.parquet").exists()


def test_cached_results_never_outlive_the_code_that_computed_them(
    toy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twin.experiments import task

    first = xp.replicate(toy_file, 2, workers=0, out=tmp_path / "out")
    monkeypatch.setattr(task, "code_fingerprint", lambda module: "changed-code")
    again = xp.replicate(toy_file, 2, workers=0, out=tmp_path / "out")
    assert again.path == first.path and (again.computed, again.cached) == (2, 0)
    assert again.manifest["code_fingerprint"] == "changed-code"
    assert len(list((again.path / "tasks").glob("*.parquet"))) == 2  # the stale files are gone


def test_the_code_fingerprint_follows_the_model_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from twin.experiments.task import code_fingerprint

    module = tmp_path / "xp_fingerprinted_model.py"
    module.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code_fingerprint.cache_clear()
    before = code_fingerprint("xp_fingerprinted_model")
    module.write_text("VALUE = 2\n")
    code_fingerprint.cache_clear()
    after = code_fingerprint("xp_fingerprinted_model")
    code_fingerprint.cache_clear()
    assert before != after and len(before) == 16
    assert code_fingerprint("twin.models.payout") == code_fingerprint("twin.models.payout")


def test_options_keep_the_scenario_order_not_the_alphabet() -> None:
    rows = flatten_summary({"options": {"a_fast": {"days": 1}, "z_baseline": {"days": 9}}}, ["z_baseline", "a_fast"])
    assert [r[0] for r in rows] == ["z_baseline", "a_fast"]
    heads = pd.DataFrame(
        {"point": 0, "replication": 0, "option": [r[0] for r in rows], "origin": "summary", "metric": "days",
         "labels": "", "time": pd.NaT, "value": [r[2] for r in rows]}
    )  # fmt: skip
    assert list(xp.bands(heads).option) == ["z_baseline", "a_fast"]
    assert xp.paired(heads).iloc[0][["option", "reference", "q50"]].tolist() == ["a_fast", "z_baseline", -8.0]
