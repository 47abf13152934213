"""A test process killed while its PostgreSQL server runs leaves nothing behind (real_backends/stores/pgserver.py).

``pg_ctl`` detaches the server from the process that started it, so before the watcher a pytest worker killed
by a CI timeout left its cluster running. Here a child process starts a server and is killed with SIGKILL
(no ``stop``, no ``finally``); within seconds the server process and its folder must be gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from real_backends.stores.pgserver import BIN

pytestmark = [pytest.mark.system, pytest.mark.skipif(not (BIN / "initdb").exists(), reason="needs postgresql")]

SERVER = """
import json, time
from real_backends.stores.pgserver import PostgresServer
pg = PostgresServer().start()
print(json.dumps({"pids": [pg.pid], "root": str(pg.root)}), flush=True)
time.sleep(600)
"""
PAIR = """
import json, time
from real_backends.rig.pgpair import PostgresPair
pair = PostgresPair().start()
print(json.dumps({"pids": [pair.primary.pid, pair.standby.pid], "root": str(pair.root)}), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.mark.parametrize("child_code", [SERVER, PAIR], ids=["server", "primary_and_standby"])
def test_servers_whose_owner_is_killed_are_stopped_and_removed(child_code: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    try:
        started = json.loads(child.stdout.readline())  # type: ignore[union-attr]
        pids, root = [int(p) for p in started["pids"]], Path(started["root"])
        assert all(_alive(p) for p in pids) and root.exists()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 60
        while (any(_alive(p) for p in pids) or root.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in pids if _alive(p)], f"PostgreSQL pids {pids} still run after their owner was killed"
        assert not root.exists(), f"{root} is left after its owner was killed"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
