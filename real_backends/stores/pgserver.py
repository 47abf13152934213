"""A throwaway PostgreSQL server for tests, benchmarks and the failover rig (loopback, temp folder).

A test bench needs a real database that comes up in seconds and leaves nothing behind. This starts
the Debian PostgreSQL 15 binaries as an unprivileged user (``initdb`` refuses root) on 127.0.0.1 and
a free port, with the data folder and the unix socket in one temporary folder; :meth:`stop` shuts
it down (``pg_ctl stop -m immediate``), checks no server process is left, and removes the folder.

``pg_ctl`` detaches the server, so a test process killed before :meth:`stop` (SIGKILL, a CI job's
timeout, pytest-xdist losing a worker) would leave it running. A watcher in its own session (a small
Python process, polling once a second, :func:`watch_owner`) therefore outlives the owner: when the owner's
process is gone and the server is still up, it stops the server the same way and removes the folder.
:meth:`stop` ends the watcher.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

BIN = Path(os.environ.get("TWIN_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries or an unprivileged user to run them are missing."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("no unprivileged user (postgres or nobody) to run initdb as")


#: the watcher (run as ``python -c``): polls once a second while its owner lives and a server is up; then
#: stops what is still up (``pg_ctl stop -m immediate``) and removes the folder. A zombie owner counts as dead
#: (in a container whose init does not reap, a killed process can stay a zombie)
_WATCHER = """
import os, shutil, subprocess, sys, time
owner, root, user, pg_ctl, *data = sys.argv[1:]
def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except OSError:
        return False
def up():
    return [d for d in data if os.path.exists(os.path.join(d, "postmaster.pid"))]
while up() and alive(owner):
    time.sleep(1)
for d in up():
    cmd = [pg_ctl, "-D", d, "-m", "immediate", "-w", "stop"]
    cmd = ["runuser", "-u", user, "--", *cmd] if os.geteuid() == 0 else cmd
    subprocess.run(cmd, capture_output=True, timeout=60, cwd="/")
shutil.rmtree(root, ignore_errors=True)
"""


def watch_owner(owner: int, root: Path, data: list[Path], user: str) -> subprocess.Popen:
    """A watcher in its own session that outlives ``owner``: when that process is gone while a cluster in
    ``data`` is still up (``pg_ctl`` detached it), it stops the clusters and removes ``root``."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHER, str(owner), str(root), user, str(BIN / "pg_ctl"), *map(str, data)],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd="/",
    )  # fmt: skip


def unwatch(watcher: subprocess.Popen | None) -> None:
    """End a watcher whose owner stops its clusters itself."""
    if watcher is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(watcher.pid, signal.SIGKILL)
    watcher.wait(timeout=10)


class PostgresServer:
    """``with PostgresServer() as pg: PostgresStore(pg.url)``: a fresh cluster with database ``twin``."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise PostgresUnavailable(f"{BIN}/initdb not found: install the Debian package postgresql")
        self.user = _user()
        self.root = Path(tempfile.mkdtemp(prefix="twin-pg-"))
        self.data, self.port = self.root / "data", free_port()
        self.pid: int | None = None
        self._watcher: subprocess.Popen | None = None

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)

    def _check(self, r: subprocess.CompletedProcess, what: str) -> None:
        if r.returncode != 0:
            raise PostgresUnavailable(f"{what} failed ({r.returncode}): {r.stderr.strip()[-800:]}")

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.root, self.user)
        self._check(self._run(BIN / "initdb", "-D", self.data, "-U", "twin", "--auth=trust", "-E", "UTF8",
                              "--no-sync", "--locale=C"), "initdb")  # fmt: skip
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=on -c max_connections=50"
        self._check(self._run(BIN / "pg_ctl", "-D", self.data, "-o", opts, "-l", self.root / "log", "-w", "start"),
                    "pg_ctl start")  # fmt: skip
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self._watcher = watch_owner(os.getpid(), self.root, [self.data], self.user)
        self._check(self._run(BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "twin", "twin"),
                    "createdb")  # fmt: skip
        return self

    @property
    def url(self) -> str:
        return f"postgresql://twin@127.0.0.1:{self.port}/twin"

    def running(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{self.pid}").exists() and "zombie" not in Path(f"/proc/{self.pid}/status").read_text()

    def stop(self) -> None:
        """Stop the server, confirm its process is gone, remove the folder."""
        unwatch(self._watcher)
        self._watcher = None
        try:
            if self.pid is not None and self.data.exists():
                self._run(BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            if self.running():
                raise RuntimeError(f"PostgreSQL server pid {self.pid} is still running after pg_ctl stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
