"""Run folders: what a run writes, that the same inputs give the same bytes, and that the report is
self-contained. Uses a tiny stand-in model so these tests do not depend on any real scenario kind."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import twin
from twin import runs
from twin import scenario as sc
from twin.config import StrictModel, interval
from twin.metrics import Metrics
from twin.report import Assumption, Figure, Paragraph, Section, Table


class TinyParams(StrictModel):
    rate: interval(0, 10) = 2.0


def tiny_run(ctx: runs.RunContext) -> runs.ModelResult:
    import matplotlib.pyplot as plt

    m = Metrics()
    summary = {}
    for opt in ctx.options:
        rng = ctx.rng("tiny")  # same stream for every option: common random numbers
        draws = rng.poisson(opt.params.rate * 1000 * ctx.scale, 30)
        days = np.arange("2020-05-01", "2020-05-31", dtype="datetime64[D]")
        m.add_series("arrivals", days, draws, option=opt.name, kind="mail")
        m.add("total", draws.sum(), option=opt.name)
        summary[opt.name] = int(draws.sum())
    fig, ax = plt.subplots()
    ax.plot(range(3))
    return runs.ModelResult(
        m,
        summary,
        [Section("Result", [Paragraph("tiny"), Table("t", ["a", "b"], [[1, 2.5]]), Figure("line", fig, "a line")])],
        sources=["nowhere"],
        assumptions=[Assumption("rate", "2", None), Assumption("x", "1", "a source")],
    )


@pytest.fixture
def tiny_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    mod = types.ModuleType("tiny_model")
    mod.__doc__ = "A tiny model for tests."
    mod.Params = TinyParams
    mod.run = tiny_run
    monkeypatch.setitem(sys.modules, "tiny_model", mod)
    from twin import models

    monkeypatch.setitem(models.KINDS, "tiny", "tiny_model")
    monkeypatch.setattr(sc, "_SCENARIO_MODELS", {})
    return "tiny"


SCEN = """\
name: tiny
kind: tiny
seed: 11
population: {scale: 0.5}
options:
  - {name: low, params: {rate: 1}}
  - {name: high, params: {rate: 4}}
"""


def test_a_run_writes_a_complete_folder(tiny_kind: str, tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SCEN)
    run = twin.run(p, out=tmp_path / "reports")
    assert run.path.parent == tmp_path / "reports" / "tiny"
    names = sorted(x.name for x in run.path.iterdir())
    assert names == ["figures", "index.html", "manifest.json", "metrics.parquet", "summary.json"]
    man = run.manifest
    for key in ("run_id", "scenario", "seed", "scale", "versions", "git_commit", "wall_time_s", "peak_rss_bytes"):
        assert key in man
    assert man["seed"] == 11 and man["scale"] == 0.5
    assert man["versions"]["myna-twin"] == twin.__version__
    assert list(run.metrics.columns) == ["time", "option", "metric", "labels", "scope", "value"]
    m = run.metrics  # totals (no time) and series points are told apart by scope, not by guessing from time
    assert set(m["scope"]) <= {"total", "series"}
    assert (m["scope"] == "total").equals(m["time"].isna())
    assert set(run.metrics.option) == {"low", "high"}
    assert run.summary["high"] > run.summary["low"]
    assert [f.name for f in run.figures] == ["line.png"]


def test_same_scenario_seed_and_scale_give_identical_bytes(tiny_kind: str, tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SCEN)
    a = twin.run(p, out=tmp_path / "a")
    b = twin.run(p, out=tmp_path / "b")
    assert a.path.name == b.path.name  # the run id names the inputs
    for f in ("metrics.parquet", "summary.json", "figures/line.png"):
        assert (a.path / f).read_bytes() == (b.path / f).read_bytes(), f
    c = twin.run(p, seed=12, out=tmp_path / "c")
    assert c.path.name != a.path.name
    assert (c.path / "metrics.parquet").read_bytes() != (a.path / "metrics.parquet").read_bytes()


def test_the_report_opens_offline_and_states_the_scale(tiny_kind: str, tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SCEN)
    html = twin.run(p, out=tmp_path / "r").report.read_text()
    assert "Scale 1:2 (50 % of households sampled" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "1 of 2 are assumed rather than sourced" in html


def test_rerun_replaces_the_folder_atomically(tiny_kind: str, tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SCEN)
    first = twin.run(p, out=tmp_path / "r")
    (first.path / "stale.txt").write_text("left from an older run")
    second = twin.run(p, out=tmp_path / "r")
    assert second.path == first.path
    assert not (second.path / "stale.txt").exists()
    assert [x.name for x in second.path.parent.iterdir()] == [second.path.name]


def test_streams_are_named_not_ordered(tiny_kind: str) -> None:
    s = sc.loads(SCEN)
    ctx = runs.RunContext(s)
    a = ctx.rng("households").random(3)
    ctx.rng("something_else").random(10)
    assert np.array_equal(a, ctx.rng("households").random(3))
    assert not np.array_equal(a, ctx.rng("households", replication=1).random(3))


def test_summary_is_plain_json(tiny_kind: str, tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SCEN)
    run = twin.run(p, out=tmp_path / "r")
    assert json.loads((run.path / "summary.json").read_text()) == run.summary


def test_open_run_rejects_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    from twin.errors import InputError

    with pytest.raises(InputError, match="not a run folder"):
        twin.open_run(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only: /proc/self/clear_refs")
def test_a_reset_peak_measures_from_the_reset_not_the_process_start() -> None:
    """What a partition reports as its own peak memory (twin.models.payout.agent.run_partition)."""
    from twin.runs import peak_rss_bytes, reset_peak_rss

    big = bytearray(256 * 2**20)
    big[:: 4096] = b"x" * len(big[:: 4096])  # touch every page
    before = peak_rss_bytes()
    del big
    assert reset_peak_rss()
    after = peak_rss_bytes()
    assert before - after >= 200 * 2**20, (before, after)
