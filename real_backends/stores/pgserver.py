"""A throwaway PostgreSQL server for tests, benchmarks and the failover rig (loopback, temp folder).

A test bench needs a real database that comes up in seconds and leaves nothing behind. This starts
the Debian PostgreSQL 15 binaries as an unprivileged user (``initdb`` refuses root) on 127.0.0.1 and
a free port, with the data folder and the unix socket in one temporary folder; :meth:`stop` shuts
it down (``pg_ctl stop -m immediate``), checks no server process is left, and removes the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
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


class PostgresServer:
    """``with PostgresServer() as pg: PostgresStore(pg.url)``: a fresh cluster with database ``twin``."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise PostgresUnavailable(f"{BIN}/initdb not found: install the Debian package postgresql")
        self.user = _user()
        self.root = Path(tempfile.mkdtemp(prefix="twin-pg-"))
        self.data, self.port = self.root / "data", free_port()
        self.pid: int | None = None

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
