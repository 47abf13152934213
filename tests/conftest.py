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


#: test files that take minutes: started first, so that under ``-n 2`` neither worker is left with a
#: long file at the end while the other idles (measured with ``--durations``; order = longest first)
LONG_FIRST = (
    "tests/browser/test_reports_in_chromium.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) each test file is one unit of
    work, so its module and session fixtures (a scenario run, a PostgreSQL cluster) are made once; all
    of tests/card is one unit, since pcscd's socket is machine-wide and only one pcscd may run."""
    def group(item: pytest.Item) -> str:
        rel = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        return "tests/card" if rel.startswith("tests/card/") else rel

    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
    items.sort(key=lambda item: rank.get(group(item), len(rank)))  # stable: the rest keep their order
