"""An interrupted partitioned run resumes: `twin run` keeps finished partitions beside the run folder,
and the rerun computes only the missing ones and writes the same bytes as an uninterrupted run."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest

from twin import runs
from twin import scenario as sc
from twin.experiments import InlineExecutor, partitions
from twin.models.payout import agent

SCENARIO = """
name: resume_check
kind: payout
seed: 11
population: {scale: 0.0001, statistics: "20200401"}
params:
  fidelity: agent
  agent: {partitions: 3}
calendar: {start: 2020-04-30, end: 2021-03-31}
options:
  - {name: baseline_2020}
"""


REAL = agent.run_partition


class Interrupted(Exception):
    pass


def counting(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> list[int]:
    """Wrap the partition function: record each partition run, raise after ``fail_after`` of them."""
    ran: list[int] = []
    real = REAL

    @functools.wraps(real)
    def wrapped(inp: agent.PartitionInput) -> agent.PartitionResult:
        if fail_after is not None and len(ran) >= fail_after:
            raise Interrupted(f"interrupted before partition {inp.index}")
        ran.append(inp.index)
        return real(inp)

    monkeypatch.setattr(agent, "run_partition", wrapped)
    return ran


def run(out: Path) -> runs.Run:
    with partitions.using(InlineExecutor()):  # in this process, so the wrapper is what runs
        return runs.execute(sc.loads(SCENARIO), out=out)


def test_an_interrupted_run_resumes_from_its_finished_partitions(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    whole = run(tmp_path / "whole")
    assert not list((tmp_path / "whole" / "resume_check").glob(".partitions-*"))  # removed when complete

    out = tmp_path / "resumed"
    ran = counting(monkeypatch, fail_after=2)
    with pytest.raises(Interrupted):
        run(out)
    assert len(ran) == 2
    folder = out / "resume_check"
    assert not (folder / whole.path.name).exists()  # nothing half-written
    kept = list(folder.glob(".partitions-*/*.pkl"))
    assert len(kept) == 2

    ran = counting(monkeypatch)
    resumed = run(out)
    assert len(ran) == 1  # only the missing partition
    assert (resumed.path / "metrics.parquet").read_bytes() == (whole.path / "metrics.parquet").read_bytes()
    assert not list(folder.glob(".partitions-*"))


def test_cache_keys_are_stable_and_tell_partitions_apart(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    seen: list[agent.PartitionInput] = []
    real = REAL

    @functools.wraps(real)
    def keep(inp: agent.PartitionInput) -> agent.PartitionResult:
        seen.append(inp)
        return real(inp)

    monkeypatch.setattr(agent, "run_partition", keep)
    run(tmp_path)
    keys = [p.cache_key() for p in seen]
    assert len(set(keys)) == len(keys) == 3
    again = [p.cache_key() for p in seen]
    assert keys == again
    other = dataclasses.replace(seen[0], seed=(*seen[0].seed[:-1], 99))
    assert other.cache_key() != keys[0]
