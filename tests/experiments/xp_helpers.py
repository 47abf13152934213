"""Helpers of the experiment tests: the toy scenario file, process-group checks, subprocess environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

TOY_YAML = """\
name: xp_toy
kind: xp_toy
title: A town-hall counter
seed: 7
population: {scale: 0.01}
params: {rate: 2.0, sleep_s: SLEEP}
options:
  - {name: base}
  - {name: more_staff, params: {counter: {staff: 6}}}
"""


def write_toy(path: Path, sleep_s: float = 0.0) -> Path:
    path.write_text(TOY_YAML.replace("SLEEP", repr(sleep_s)))
    return path


def group_processes(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group, read from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            alive.append(int(stat.parent.name))
    return alive


def venv_env() -> dict[str, str]:
    """Environment for subprocesses: the venv's bin first on PATH, the toy model importable, and the
    twin this test imported first on the path.

    A script (``xp_cli_main.py``, ``dask worker``) does not put the working directory on its path, so
    without the last it imports whichever twin the venv's editable install names. In a git worktree
    that shares the main checkout's venv, that is the main checkout's code: its code fingerprint, and
    so every task key, differs from the test's whenever the two trees differ (a branch's own change,
    or a merge into main while the test runs), and a resumed sweep finds none of the work done.
    """
    import twin

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    root = Path(twin.__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    return env
