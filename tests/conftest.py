"""Shared test set-up: tests run from the repository root, with headless matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


#: test files that take minutes: started first, longest first, so that under ``-n 2`` neither worker is
#: left with a long unit of work at the end while the other idles (measured with ``--durations``)
LONG_FIRST = (
    "tests/rollout/test_rollout_scenarios.py",
    "tests/test_notebooks.py",
    "tests/models/test_payout_calibrate_command.py",
    "tests/rollout/test_rollout_calibrate_command.py",
    "tests/experiments/test_partitions.py",
    "tests/backends_a/test_failover_rig.py",
    "tests/browser/test_reports_in_chromium.py",
)


def _path(item: pytest.Item) -> str:
    return Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) each test file is one unit of
    work, so its module and session fixtures (a scenario run, a PostgreSQL cluster) are made once; all
    of tests/card is one unit, since pcscd's socket is machine-wide and only one pcscd may run. A test
    that names its own ``xdist_group`` keeps it: a file whose tests share nothing costly (each browser
    check runs its own scenario, each notebook runs alone) splits into units both workers take."""
    def group(item: pytest.Item) -> str:
        own = item.get_closest_marker("xdist_group")
        if own is not None:
            return own.args[0] if own.args else own.kwargs["name"]
        rel = _path(item)
        return "tests/card" if rel.startswith("tests/card/") else rel

    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group(item)))
    items.sort(key=lambda item: rank.get(_path(item), len(rank)))  # stable: the rest keep their order
