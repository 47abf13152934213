"""Reports opened in a real browser: every bundled scenario run once at a small scale, shared by the session.

The runs are the expensive part, so they are made once per session (each scenario at 1:20,000 with
one replication, three on a shorter calendar) and every browser test reads the same folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SCALE = 5e-5
#: the scenarios whose cost does not shrink with the scale run a shorter calendar (as tests/rollout does):
#: the report has the same sections, tables and figures
SHORTER = {
    "rollout_history.yaml": {"end: 2021-12-31": "end: 2017-05-31", '"20200120"': '"20170515"'},
    "rollout_options.yaml": {"end: 2023-03-31": "end: 2017-05-31", '"20200120"': '"20170515"',
                             "replications: 3": "replications: 1"},
    "failover_architectures.yaml": {"end: 2025-12-31": "end: 2025-01-31", "days: 365": "days: 31"},
    # the request-level capacity runs cost what the national facility day costs, whatever the scale: a
    # shorter window, and the knee scenario without its search (7 minutes of simulation; same layout)
    "capacity_knee.yaml": {"knee: true": "knee: false"},
    "capacity_metastable.yaml": {'window: ["09:20", "11:00"]': 'window: ["09:35", "10:00"]'},
    "capacity_card_insurance_2024_12.yaml": {'window: ["08:00", "13:00"]': 'window: ["08:00", "08:30"]'},
    # three fiscal years hour by hour at 1:1 whatever the scale: one quarter (Android's start inside it)
    "capacity_phones.yaml": {"end: 2026-03-31": "end: 2023-06-30"},
}


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
    from twin import runs, scenario

    out = tmp_path_factory.mktemp("browser-runs")
    folders = {}
    for path in SCENARIOS:
        text = path.read_text()
        for old, new in SHORTER.get(path.name, {}).items():
            assert old in text, f"{path.name}: {old!r} is gone; update SHORTER"
            text = text.replace(old, new)
        s = scenario.loads(text, path)
        reps = 1 if s.spec.replications > 1 else None  # only where the file asks for more
        folders[path.name] = runs.execute(s.with_overrides(scale=SCALE, replications=reps), out=out).path
    return folders
