"""Top-level partition functions for the partition tests (importable by spawned and Dask workers)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def square_slowly(x: tuple[int, float]) -> int:
    """Partition ``i``: sleep ``s`` seconds, return i*i."""
    i, s = x
    time.sleep(s)
    return i * i


def die_once(x: tuple[int, str]) -> int:
    """Partition ``i``: the first time partition 2 runs (no marker file yet), its worker is SIGKILLed."""
    i, marker = x
    if i == 2 and not Path(marker).exists():
        Path(marker).write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return i * i


def die_always_for_2(x: tuple[int, str]) -> int:
    i, marker = x
    if i == 2 and not Path(marker).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return i * i
