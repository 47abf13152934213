"""Every bundled scenario's report and a comparison report, opened in headless Chromium with no network.

A report is read in a browser, often on a laptop with no connection. Opened at 1280 px it must show
no console error, load nothing from anywhere (its figures are inline), have no broken image and
not be wider than the window. The first tests show the checker itself catches each of those faults.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, SCENARIOS
from twin.report.browser import WIDTH, Browser, PageCheck

PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _page(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}</body></html>")
    return p


def test_a_clean_page_passes_and_each_fault_is_caught(tmp_path: Path, browser: Browser) -> None:
    dot = f"<p>ok</p><img alt='dot' src='data:image/png;base64,{PNG_1PX}'>"
    clean = browser.check(_page(tmp_path, "clean.html", dot))
    assert clean.problems() == [] and clean.images == 1 and clean.scroll_width <= WIDTH

    err = browser.check(_page(tmp_path, "err.html", "<script>console.error('boom'); undefinedFunction();</script>"))
    assert any("boom" in e for e in err.console_errors)
    assert any("undefinedFunction" in e for e in err.console_errors)

    broken = browser.check(_page(tmp_path, "img.html", "<img alt='bad figure' src='data:image/png;base64,AAAA'>"))
    assert broken.broken_images == ["bad figure"]

    net = browser.check(_page(tmp_path, "net.html", "<img alt='remote' src='https://example.org/x.png'>"))
    assert net.requests == ["https://example.org/x.png"], "the request was made (and blocked: we are offline)"
    assert net.broken_images == ["remote"]

    wide = browser.check(_page(tmp_path, "wide.html", "<table><tr>" + "<td>1,234,567.8</td>" * 60 + "</tr></table>"))
    assert wide.overflows and wide.scroll_width > WIDTH and wide.overflowing
    assert any(p.startswith("horizontal overflow") for p in wide.problems())


def _assert_clean(check: PageCheck) -> None:
    assert check.problems() == [], f"{check.path}:\n" + "\n".join(check.problems())
    assert check.images >= 1, f"{check.path}: a report without a figure"
    assert check.scroll_width <= WIDTH


#: the runs the comparison report reads: their checks and the comparison are one unit of work, so each is
#: run once
COMPARED = ("payout_2020.yaml", "incident_2020_payout.yaml")


def _unit(name: str) -> pytest.MarkDecorator:
    """Each scenario's check is its own unit of work under pytest-xdist (tests/conftest.py honours a test's
    own ``xdist_group``): the scenarios' runs are shared between the workers instead of queued on one."""
    return pytest.mark.xdist_group(f"{Path(__file__).relative_to(ROOT).as_posix()}::{name}")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scenario", [pytest.param(p.name, marks=_unit("comparison" if p.name in COMPARED else p.name))
                                      for p in SCENARIOS])  # fmt: skip
def test_each_bundled_scenario_report_is_clean_offline_at_1280_px(scenario: str, bundled_run: Callable[[str], Path],
                                                                 browser: Browser) -> None:  # fmt: skip
    _assert_clean(browser.check(bundled_run(scenario) / "index.html"))


@pytest.mark.slow
@pytest.mark.timeout(900)
@_unit("comparison")
def test_a_comparison_report_is_clean_and_twin_report_saves_a_screenshot(
    bundled_run: Callable[[str], Path], tmp_path: Path, browser: Browser
) -> None:
    """``twin report RUN RUN --screenshot``: the page is clean and a full-page PNG lands beside it."""
    runs = [str(bundled_run(n)) for n in COMPARED]
    out = tmp_path / "compare"
    r = subprocess.run([sys.executable, "-m", "twin.cli", "report", *runs, "--out", str(out), "--screenshot"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr
    _assert_clean(browser.check(out / "index.html"))
    png = out / f"screenshot-{WIDTH}.png"
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert width == WIDTH and height > 900, "a full page, not just the first screen"


def test_wiring_screenshot_without_a_browser_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"TWIN_CHROMIUM": str(tmp_path / "no-chromium"), "PATH": "/usr/bin:/bin"}
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>x</title>")
    cmd = [sys.executable, "-m", "twin.cli", "report", str(folder), "--screenshot", "--out", str(tmp_path / "out")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [f"error: TWIN_CHROMIUM: {str(tmp_path / 'no-chromium')!r} is not an "
                                             "executable file"]  # fmt: skip
    assert not (tmp_path / "out").exists(), "nothing is written when the screenshot cannot be taken"


def test_wiring_twin_run_screenshot_without_a_browser_fails_before_running(tmp_path: Path) -> None:
    env = {"TWIN_CHROMIUM": str(tmp_path / "no-chromium"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "twin.cli", "run", "scenarios/incident_2016_relay.yaml", "--screenshot", "--out",
           str(tmp_path / "out")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "TWIN_CHROMIUM" in r.stderr and not (tmp_path / "out").exists()
