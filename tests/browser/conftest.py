"""Reports opened in a real browser: every bundled scenario run once at a small scale, shared by the session.

The runs are the expensive part, so they are made once per session (each scenario at 1:20,000 with
one replication) and every browser test reads the same folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SCALE = 5e-5


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the session (``make test`` installs the Debian package)."""
    from twin.report.browser import Browser, BrowserUnavailable, find_chromium

    try:
        find_chromium()
    except BrowserUnavailable as e:
        pytest.fail(f"{e} (the browser checks are part of make test, which installs it)")
    with Browser() as b:
        yield b


@pytest.fixture(scope="session")
def bundled_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{scenario file name: run folder}`` for every scenarios/*.yaml, at a small scale, one replication."""
    import twin
    from twin import scenario

    out = tmp_path_factory.mktemp("browser-runs")
    runs = {}
    for path in SCENARIOS:
        s = scenario.load(path)
        reps = 1 if s.spec.replications > 1 else None  # only where the file asks for more
        runs[path.name] = twin.run(path, scale=SCALE, replications=reps, out=out).path
    return runs
