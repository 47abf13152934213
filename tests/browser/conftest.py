"""Reports opened in a real browser: every bundled scenario run once at a small scale.

The runs are the expensive part. Each scenario's check is its own unit of work under pytest-xdist
(its own ``xdist_group``, see test_reports_in_chromium.py), so the two workers share the scenarios;
``bundled_run`` makes a scenario's run once per worker (at 1:20,000 with one replication, some on a
shorter calendar) and hands the same folder to every test that asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SCALE = 5e-5
#: the scenarios whose cost does not shrink with the scale run a shorter calendar (as tests/rollout does):
#: the report has the same sections, tables and figures
SHORTER = {
    # rollout_history runs its whole calendar (10 s): its report is the full rollout layout, the My Number
    # Points section included, which a shorter calendar leaves out (the points phases start in 2020)
    "rollout_options.yaml": {"end: 2023-03-31": "end: 2017-05-31", '"20200120"': '"20170515"',
                             "replications: 3": "replications: 1"},
    # the agent tier costs what its calendar costs (4 minutes for 2016-2021 at 1:100): the same report code
    # as rollout_history's on 17 months and a 1:2000 sample (as tests/rollout runs it), points section aside
    "rollout_agents.yaml": {"end: 2021-12-31": "end: 2017-05-31", '"20200120"': '"20170515"',
                            "agent_sample: 0.01": "agent_sample: 0.0005"},
    # the rollout to 2026 costs its eleven years whatever the scale: its first option, once (one a line in the file)
    "rollout_licence_2026.yaml": {"replications: 2": "replications: 1",
                                  "\n  - {name: no_channels": "\n#  - {name: no_channels",
                                  "\n  - {name: channels_low": "\n#  - {name: channels_low",
                                  "\n  - {name: channels_high": "\n#  - {name: channels_high"},
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
    """One headless Chromium per worker (``make test`` installs the Debian package)."""
    from twin.report.browser import Browser, BrowserUnavailable, find_chromium

    try:
        find_chromium()
    except BrowserUnavailable as e:
        pytest.fail(f"{e} (the browser checks are part of make test, which installs it)")
    with Browser() as b:
        yield b


def execute(path: Path, out: Path) -> Path:
    """Run one bundled scenario as the browser checks do (small scale, one replication, SHORTER): its folder."""
    from twin import runs, scenario

    text = path.read_text()
    for old, new in SHORTER.get(path.name, {}).items():
        assert old in text, f"{path.name}: {old!r} is gone; update SHORTER"
        text = text.replace(old, new)
    s = scenario.loads(text, path)
    reps = 1 if s.spec.replications > 1 else None  # only where the file asks for more
    return runs.execute(s.with_overrides(scale=SCALE, replications=reps), out=out).path


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``bundled_run(scenario file name)`` -> its run folder, made on the first call of the session."""
    out = tmp_path_factory.mktemp("browser-runs")
    folders: dict[str, Path] = {}

    def run(name: str) -> Path:
        if name not in folders:
            folders[name] = execute(ROOT / "scenarios" / name, out)
        return folders[name]

    return run
