"""click's own usage errors (an unknown option or command, a missing or invalid value) end like every other
bad input to ``twin``: one line on stderr naming the command, the option or argument, the value and what is
allowed; exit code 2; nothing on stdout and nothing written. Before, click printed its usage box.

Each case runs the real entry point in a subprocess, as a user runs it (the box came from click's
standalone handling, which an in-process CliRunner does not exercise the same way)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _twin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "twin.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _refused(tmp_path: Path, *args: str) -> str:
    run = _twin(tmp_path, *args)
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    assert run.stdout == "" and not any(tmp_path.iterdir()), "nothing printed to stdout, nothing written"
    return lines[0]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("serve", "linkage", "--bogus"),
         "error: twin serve: no such option '--bogus'; the options are: --help, --host, --log-level, --port, "
         "--set, --store, --workers"),
        (("serve", "portal", "--port", "99999"), "error: twin serve: --port '99999': "),  # then typer's reason
        (("serve", "portal", "--workers=0"), "error: twin serve: --workers '0': "),
        (("serve", "portal", "--port"), "error: twin serve: option '--port' requires an argument"),
        (("run", "--scale", "abc", str(ROOT / "scenarios/payout_2020.yaml")), "error: --scale: 'abc' is not a number"),
        (("run",), "error: twin run: missing argument SCENARIO (scenario file (YAML), e.g. scenarios/nation.yaml)"),
        (("run", "a.yaml", "b.yaml"), "error: twin run: got unexpected extra argument(s) (b.yaml)"),
        (("serve", "portal", "extra"), "error: twin serve: unexpected extra argument 'extra'"),
        (("card", "serve", "--bogus"), "error: twin card serve: no such option '--bogus'; the options are: "),
    ],
)  # fmt: skip
def test_a_usage_error_is_one_line_naming_what_was_wrong(tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    assert _refused(tmp_path, *args).startswith(line)


def test_an_out_of_range_value_says_what_is_allowed(tmp_path: Path) -> None:
    assert "65535" in _refused(tmp_path, "serve", "portal", "--port", "99999")
    assert "integer" in _refused(tmp_path, "serve", "portal", "--port", "abc")


def test_an_unknown_command_names_the_commands_there_are(tmp_path: Path) -> None:
    line = _refused(tmp_path, "nosuch")
    assert line.startswith("error: twin: no such command 'nosuch'; choose one of: run, ")
    assert {"serve", "card", "sweep", "validate"} <= set(line.split(": ")[-1].split(", "))
    assert "(did you mean 'serve'?)" in _refused(tmp_path, "serv")


def test_a_refused_value_that_looks_like_a_my_number_is_masked(tmp_path: Path) -> None:
    line = _refused(tmp_path, "serve", "linkage", "--port", "123456789018")
    assert "123456789018" not in line and "--port '************'" in line


def test_help_is_still_click_s_help(tmp_path: Path) -> None:
    shown = _twin(tmp_path, "serve", "--help")
    assert shown.returncode == 0 and "Usage: " in shown.stdout and "--workers" in shown.stdout
    bare = _twin(tmp_path, "serve")  # a group given nothing shows its help, as before
    assert bare.returncode == 2 and "Usage: " in bare.stdout + bare.stderr and "error:" not in bare.stderr
