"""More of a planner's mistakes (issue 19): each is one line naming file, field and value, exit 2,
and nothing written. Every case here gave a traceback, a hang or a silent acceptance before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin import scenario as sc
from twin.cli import app
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
GOOD = ("name: demo\nkind: nation\nseed: 7\npopulation:\n  scale: 0.001\n"
        "calendar:\n  start: 2020-04-01\n  end: 2020-05-01\n")


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


REMOVED_PRIVATE = (
    "was removed (a flat count): private logins are derived from the platform operators' links, "
    "demand.platform_links x demand.platform_logins_per_link_per_day (default 20,000,000 x 0.025 = 500,000 a "
    "day); set those instead")
CASES = [
    ("impossible calendar date", "name: x\nkind: nation\ncalendar: {start: 2020-02-30}\n",
     "{f}: line 3, column 19: 2020-02-30 is not a calendar date (day is out of range for month)"),
    ("impossible date in params", "name: x\nkind: payout\nparams:\n  disbursement: {first_payment: 2020-13-01}\n",
     "{f}: line 4, column 33: 2020-13-01 is not a calendar date (month must be in 1..12)"),
    ("kind is a list", "name: x\nkind: [payout]\n",
     "{f}: kind: a list of 1 item is not a scenario kind (allowed: {kinds})"),
    ("calendar 0001-9999", "name: x\nkind: nation\ncalendar: {start: 0001-01-01, end: 9999-12-31}\n",
     "{f}: calendar.start: '0001-01-01' is outside the years whose public holidays the calendar knows "
     "(2007-01-01 .. 2099-12-31)"),
    ("seed true", "name: x\nkind: nation\nseed: true\n", "{f}: seed: true is not an integer"),
    ("inf passes no (0, inf) check", "name: x\nkind: payout\nparams: {verification: {correction_days: .inf}}\n",
     "{f}: params.verification.correction_days: inf is not in (0, inf)"),
    ("nan", "name: x\nkind: payout\nparams: {verification: {correction_days: .nan}}\n",
     "{f}: params.verification.correction_days: nan is not in (0, inf)"),
    ("services empty", "name: x\nkind: failover\nparams: {services: {}}\n",
     "{f}: params.services: a mapping {{}} is an empty mapping; omit the key to keep the default services, "
     "or name the services to change (`name: null` removes one)"),
    ("batches_per_week empty", "name: x\nkind: payout\nparams: {disbursement: {batches_per_week: {city: []}}}\n",
     "{f}: params.disbursement.batches_per_week: a mapping {{city}} has no (transfer days a week, share) pair "
     "for city; give at least one"),
    ("promote_to absolute", "name: x\nkind: rollout\nparams: {calibration: {promote_to: /tmp/evil.json}}\n",
     "{f}: params.calibration.promote_to: '/tmp/evil.json' is not allowed; use a relative path without '..' "
     "(e.g. scenarios/rollout_fitted.json)"),
    ("promote_to dot-dot", "name: x\nkind: rollout\nparams: {calibration: {promote_to: ../../evil.json}}\n",
     "{f}: params.calibration.promote_to: '../../evil.json' is not allowed; use a relative path without '..' "
     "(e.g. scenarios/rollout_fitted.json)"),
    ("load_multiplier 1e12", "name: x\nkind: capacity\nparams: {load_multiplier: 1.0e+12}\n",
     "{f}: params.load_multiplier: 1000000000000.0 is not in (0, 10,000]"),
    ("removed flat private verifier count (capacity)",
     "name: x\nkind: capacity\nparams: {demand: {private_verifier_checks_per_day: 500000}}\n",
     "{f}: params.demand.private_verifier_checks_per_day: 500000 " + REMOVED_PRIVATE),
    ("removed flat private verifier count (failover option)",
     "name: x\nkind: failover\noptions:\n  - {name: a, params: {demand: {private_verifier_checks_per_day: 2.0e+6}}}\n",
     "{f}: options[0].params.demand.private_verifier_checks_per_day: 2000000.0 " + REMOVED_PRIVATE),
]


@pytest.mark.parametrize("case,text,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_is_one_clear_line(tmp_path: Path, case: str, text: str, expected: str) -> None:
    from twin.models import KINDS

    p = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        sc.load(p)
    assert str(e.value) == expected.format(f=sc._display(p), kinds=", ".join(KINDS))


def test_cli_exit_2_and_nothing_written_for_a_bad_file(tmp_path: Path) -> None:
    p = write(tmp_path, CASES[0][1])
    code, _, err = cli("run", str(p), "--out", str(tmp_path / "reports"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "2020-02-30 is not a calendar date" in err
    assert not (tmp_path / "reports").exists()


def test_cli_exit_2_for_the_removed_private_verifier_count(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nkind: capacity\nparams: {demand: {private_verifier_checks_per_day: 1}}\n")
    code, _, err = cli("run", str(p), "--out", str(tmp_path / "reports"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "params.demand.private_verifier_checks_per_day: 1 was removed" in err and "platform_links" in err
    assert not (tmp_path / "reports").exists()


def test_scale_too_small_to_sample_anyone(tmp_path: Path) -> None:
    code, _, err = cli("run", str(write(tmp_path, GOOD)), "--scale", "1e-12", "--out", str(tmp_path / "reports"))
    assert code == 2
    assert err.strip() == ("error: --scale: population.scale: 1e-12 is below 1e-05 (1:100,000, about 570 "
                           "households): too few households sampled to stand for the nation")  # fmt: skip
    assert not (tmp_path / "reports").exists()


def test_a_device_is_not_read_without_bound(tmp_path: Path) -> None:
    code, _, err = cli("run", "/dev/zero", "--out", str(tmp_path / "reports"))
    assert code == 2 and err.strip() == "error: /dev/zero: is not a regular file; a scenario is a YAML file"


def test_a_huge_file_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (sc.MAX_SCENARIO_BYTES + 10) + b"\n")
    with pytest.raises(InputError, match=r"is larger than 1 MiB"):
        sc.load(big)


def test_calibrated_from_a_directory(tmp_path: Path) -> None:
    from twin.models.rollout.setup import read_fitted

    with pytest.raises(InputError) as e:
        read_fitted(str(tmp_path))
    assert str(e.value) == (f"params.calibrated_from: {tmp_path}: is not a file (a JSON file written by "
                            "`twin calibrate`)")  # fmt: skip


def test_sweep_grid_beyond_the_stated_limit_is_refused_before_building_it(tmp_path: Path) -> None:
    code, _, err = cli("sweep", "scenarios/payout_2020.yaml", "--param", "verification.minutes_mail=2:4",
                       "--grid", "100000", "--out", str(tmp_path / "sw"))  # fmt: skip
    assert code == 2
    assert err.strip() == ("error: --grid: 100000 gives 100,000 points for 1 varied param(s); at most 10,000 "
                           "points are allowed in one sweep")  # fmt: skip
    assert not (tmp_path / "sw").exists()


def test_servers_needed_searches_in_log_steps_not_one_worker_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from twin.models.capacity import aggregate
    from twin.models.capacity.queues import HOUR, peak_p99, simulate_pool

    calls = []

    def counted(lam: float, s: float, c: int) -> float:
        calls.append(c)
        return peak_p99(lam, s, c)

    lam, s, slo = 20_000.0, 0.1, 0.5  # about 2,000 workers busy; p99 of the service alone is 0.46 s
    pool = simulate_pool(np.array([lam * HOUR]), np.array([s]), 10, 1e9)
    monkeypatch.setattr(aggregate, "peak_p99", counted)
    c = aggregate.servers_needed(pool, slo)
    assert peak_p99(lam, s, c) <= slo < peak_p99(lam, s, c - 1)
    assert len(calls) <= 30, f"{len(calls)} evaluations"


def test_summary_json_is_strict_json(tmp_path: Path) -> None:
    from twin.runs import to_json

    text = to_json({"median_days": float("nan"), "share": float("inf"), "ok": 1.5})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == {
        "median_days": None, "share": None, "ok": 1.5}


def test_a_model_error_leaves_no_empty_report_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import twin.models.nation as nation
    from twin import runs

    def explode(ctx):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    monkeypatch.setattr(nation, "run", explode)
    out = tmp_path / "reports"
    (out / "other").mkdir(parents=True)  # someone else's output stays
    with pytest.raises(RuntimeError):
        runs.execute(sc.load(write(tmp_path, GOOD)), out=out)
    assert sorted(p.name for p in out.iterdir()) == ["other"], "reports/demo/ was left behind"


_TERMINATED_RUN = textwrap.dedent("""
    import os, signal, sys, time
    import twin.report.html as html
    from twin import runs, scenario as sc

    def figure_png(fig):  # the run folder is being written: the operator sends SIGTERM now
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    html.figure_png = figure_png
    runs.execute(sc.load(sys.argv[1]), out=sys.argv[2])
""")


@pytest.mark.slow
def test_sigterm_mid_write_leaves_no_temporary_folder(tmp_path: Path) -> None:
    scen = write(tmp_path, GOOD)
    out = tmp_path / "reports"
    r = subprocess.run([sys.executable, "-c", _TERMINATED_RUN, str(scen), str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert r.returncode == -signal.SIGTERM, r.stderr[-2000:]  # ends by SIGTERM, as without the clean-up
    left = list(out.rglob("*")) if out.exists() else []
    assert left == [], f"left behind: {left}"


def test_temporaries_of_dead_runs_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    from twin.runs import remove_stale_temporaries

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f".tmp-abc123-{dead.pid}"
    alive = tmp_path / f".tmp-abc123-{os.getpid()}"
    for d in (gone, alive):
        (d / "figures").mkdir(parents=True)
    assert remove_stale_temporaries(tmp_path) == [gone]
    assert not gone.exists() and alive.exists()


def test_wiring_the_calendar_bounds_are_the_holiday_rules_years() -> None:
    from twin.sim.holidays import FIRST_YEAR, LAST_YEAR

    assert sc.CALENDAR_YEARS == (FIRST_YEAR, LAST_YEAR)


def test_an_slo_below_the_service_times_own_p99_is_refused_not_searched_forever() -> None:
    import numpy as np

    from twin.models.capacity.aggregate import servers_needed
    from twin.models.capacity.queues import HOUR, simulate_pool

    pool = simulate_pool(np.array([100.0 * HOUR]), np.array([0.1]), 20, 1e9)
    with pytest.raises(ValueError, match=r"p99 of 0.461 s, not below the SLO 0.15 s: no pool size meets it"):
        servers_needed(pool, 0.15)


def test_replications_are_refused_for_a_kind_that_runs_one(tmp_path: Path) -> None:
    """Before: `twin run payout --replications 3` gave the same bytes as one run while the manifest
    recorded 3. A kind replicates only if its model says so; otherwise the sweep does it."""
    code, _, err = cli("run", "scenarios/payout_2020.yaml", "--replications", "3", "--out", str(tmp_path / "r"))
    assert code == 2
    assert err.strip() == ("error: --replications: replications: 3 is not allowed for kind payout, whose run is "
                           "one replication; use `twin sweep SCENARIO --reps 3` for independent replications "
                           "(10/50/90 % bands)")  # fmt: skip
    assert not (tmp_path / "r").exists()
    from twin.models import model_module

    assert model_module("failover").REPLICATES and model_module("rollout").REPLICATES
    assert sc.load("scenarios/rollout_options.yaml").spec.replications == 3  # still allowed where it runs
