"""``make test`` runs on both cores with pytest-xdist's ``--dist loadgroup``, and relies on the groups
tests/conftest.py sets: all of tests/card on one worker (pcscd's socket is machine-wide), each other
file on one worker (its module fixtures are made once), except tests that name their own group (each
bundled scenario's browser check, so the workers share the scenario runs). A pytest release that
drops the groups does so silently (pytest 9.2 did, pytest-xdist#1386) and the card tests then race
for pcscd now and then; this test runs a small grouped session and fails when the grouping is not in effect."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_under_xdist_all_card_tests_run_on_one_worker_and_each_file_on_one() -> None:
    browser = "tests/browser/test_reports_in_chromium.py"
    files = ["tests/card/test_card_os.py", "tests/card/test_layouts_and_personalisation.py",
             "tests/sim/test_calendar.py", browser]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider",
         "-p", "no:randomly", "-k", "not test_reports_in_chromium or a_clean_page or nation.yaml", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    workers: dict[str, set[str]] = {}
    for worker, nodeid in re.findall(r"^\[(gw\d)\] \[\s*\d+%\] PASSED (.+?)\s*$", out.stdout, re.M):
        path = nodeid.split("::")[0]
        group = "tests/card" if path.startswith("tests/card/") else path
        if path == browser and "[nation.yaml]" in nodeid:
            group = f"{browser}::nation.yaml"  # its own group (test_reports_in_chromium.py sets it)
        workers.setdefault(group, set()).add(worker)
        assert nodeid.endswith("@" + group), f"{nodeid}: xdist did not receive the group {group!r}"
    assert set(workers) == {"tests/card", "tests/sim/test_calendar.py", browser, f"{browser}::nation.yaml"}
    assert all(len(w) == 1 for w in workers.values()), workers
