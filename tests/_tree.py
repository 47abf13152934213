"""The project's working tree, for tests that check a command leaves it as it was."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_status() -> str:
    """``git status --porcelain`` of the working tree, untracked files included."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
