"""A PostgreSQL primary with a streaming-replication hot standby (主系/待機系), started for one drill.

A payout office's ledger lives on a database server with a standby in the next rack: every commit
on the primary is streamed to the standby's WAL, and when the primary dies an operator (or a
failover manager such as Patroni) promotes the standby, and the application servers reconnect to
it. With *synchronous* commit (``synchronous_standby_names``) the primary does not acknowledge a
commit until the standby has flushed it, so nothing acknowledged can be lost; with *asynchronous*
commit it acknowledges after its own flush, and what the standby had not yet received when the
primary died is gone.

:class:`PostgresPair` stages that on this machine with the Debian PostgreSQL binaries: two clusters
in one temporary folder on loopback ports (``initdb``, then ``pg_basebackup -R`` for the standby),
run as an unprivileged user as :class:`~real_backends.stores.pgserver.PostgresServer` does.
:meth:`kill_primary` sends SIGKILL to the primary's postmaster (its backends notice the dead
postmaster and exit on their own; any still there after a grace period are killed by pid, found
by their working directory, the data folder). :class:`FailoverManager` watches the primary and
promotes the standby (``SELECT pg_promote()``) after ``checks`` failed health checks in a row.
:attr:`PostgresPair.url` lists both servers with ``target_session_attrs=read-write``, so a client
that reconnects finds whichever is the primary now.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import psycopg

from real_backends.stores.pgserver import BIN, PostgresUnavailable, _user, free_port, unwatch, watch_owner

STANDBY_NAME = "twin_standby"


class _Cluster:
    def __init__(self, name: str, root: Path) -> None:
        self.name, self.data, self.port = name, root / name, free_port()
        self.pid: int | None = None

    def dsn(self, **extra: str) -> str:
        opts = "".join(f" {k}={v}" for k, v in extra.items())
        return f"host=127.0.0.1 port={self.port} user=twin dbname=twin connect_timeout=2{opts}"

    def processes(self) -> list[int]:
        """Pids of every process whose working directory is this cluster's data folder (postmaster and children)."""
        out = []
        target = str(self.data.resolve())
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                if os.readlink(p / "cwd") == target and "zombie" not in (p / "status").read_text():
                    out.append(int(p.name))
            except (FileNotFoundError, PermissionError, ProcessLookupError, NotADirectoryError):
                continue
        return out


class PostgresPair:
    """``with PostgresPair(synchronous=True) as pair: PostgresStore(pair.url)``: primary + streaming hot standby."""

    def __init__(self, synchronous: bool = True) -> None:
        if not (BIN / "initdb").exists():
            raise PostgresUnavailable(f"{BIN}/initdb not found: install the Debian package postgresql")
        self.synchronous = synchronous
        self.user = _user()
        self.root = Path(tempfile.mkdtemp(prefix="twin-pgpair-"))
        self.primary, self.standby = _Cluster("primary", self.root), _Cluster("standby", self.root)
        self.killed_at: float | None = None  # time.monotonic() of the SIGKILL
        self._shm: list[str] = []
        self._watcher: subprocess.Popen | None = None  # stops both clusters if this process dies first

    # -- processes -----------------------------------------------------------------------------

    def _run(self, *args: object, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def _check(self, r: subprocess.CompletedProcess, what: str) -> None:
        if r.returncode != 0:
            raise PostgresUnavailable(f"{what} failed ({r.returncode}): {r.stderr.strip()[-800:]}")

    def _start(self, c: _Cluster, settings: dict[str, str]) -> None:
        opts = f"-h 127.0.0.1 -p {c.port} -k {self.root}" + "".join(f" -c {k}={v}" for k, v in settings.items())
        self._check(self._run(BIN / "pg_ctl", "-D", c.data, "-o", opts, "-l", self.root / f"{c.name}.log", "-w",
                              "start"), f"pg_ctl start ({c.name})")  # fmt: skip
        lines = (c.data / "postmaster.pid").read_text().split("\n")
        c.pid = int(lines[0])
        if len(lines) > 6 and lines[6].split():  # "key shmid": the SysV segment a killed postmaster leaves
            self._shm.append(lines[6].split()[-1])

    def start(self) -> PostgresPair:
        if os.geteuid() == 0:
            shutil.chown(self.root, self.user)
        self._check(self._run(BIN / "initdb", "-D", self.primary.data, "-U", "twin", "--auth=trust", "-E", "UTF8",
                              "--no-sync", "--locale=C"), "initdb")  # fmt: skip
        common = {"fsync": "on", "max_connections": "50", "wal_level": "replica", "max_wal_senders": "4",
                  "wal_sender_timeout": "10s", "wal_receiver_status_interval": "1s"}  # fmt: skip
        self._start(self.primary, {**common, "cluster_name": "twin_primary", "synchronous_commit": "on"})
        with psycopg.connect(self.primary.dsn(dbname="postgres"), autocommit=True) as c:
            c.execute("CREATE DATABASE twin")
        # the standby: a base backup of the running primary that starts as a streaming replica (-R)
        self._check(self._run(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.primary.port, "-U", "twin",
                              "-D", self.standby.data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
                    "pg_basebackup")  # fmt: skip
        self._start(self.standby, {**common, "cluster_name": STANDBY_NAME, "hot_standby": "on"})
        if self.synchronous:  # only now: with a named synchronous standby absent, every commit would wait
            with psycopg.connect(self.primary.dsn(dbname="postgres"), autocommit=True) as c:
                c.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
                c.execute("SELECT pg_reload_conf()")
        self._wait_streaming()
        self._watcher = watch_owner(os.getpid(), self.root, [self.primary.data, self.standby.data], self.user)
        return self

    def _wait_streaming(self, timeout: float = 60.0) -> None:
        want = "sync" if self.synchronous else "async"
        end = time.monotonic() + timeout
        with psycopg.connect(self.primary.dsn(dbname="postgres"), autocommit=True) as c:
            while time.monotonic() < end:
                row = c.execute("SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s",
                                (STANDBY_NAME,)).fetchone()  # fmt: skip
                if row == ("streaming", want):
                    return
                time.sleep(0.05)
        raise PostgresUnavailable(f"the standby was not streaming ({want}) after {timeout} s: see {self.root}")

    @property
    def url(self) -> str:
        """Both servers; libpq connects to the first that accepts writes (the primary, or the promoted standby)."""
        return (f"postgresql://twin@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}/twin"
                "?target_session_attrs=read-write&connect_timeout=2")  # fmt: skip

    def replication(self) -> dict[str, object]:
        """The primary's view of its standby: state, sync_state and replay lag in bytes."""
        with psycopg.connect(self.primary.dsn(dbname="postgres"), autocommit=True) as c:
            row = c.execute("SELECT state, sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                            "FROM pg_stat_replication WHERE application_name = %s",
                            (STANDBY_NAME,)).fetchone()  # fmt: skip
        return {} if row is None else {"state": row[0], "sync_state": row[1], "replay_lag_bytes": int(row[2] or 0)}

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster (only the postmaster: its children find it dead and exit)."""
        assert self.primary.pid is not None
        self.killed_at = time.monotonic()
        os.kill(self.primary.pid, signal.SIGKILL)

    def promote(self) -> None:
        """Promote the standby and wait until it accepts writes."""
        with psycopg.connect(self.standby.dsn(), autocommit=True) as c:
            if not c.execute("SELECT pg_promote(wait => true, wait_seconds => 60)").fetchone()[0]:
                raise PostgresUnavailable("pg_promote() did not finish within 60 s")

    def _reap(self, c: _Cluster, grace: float = 10.0) -> None:
        """Wait for a cluster's processes to exit (its postmaster is gone); SIGKILL by pid what remains."""
        end = time.monotonic() + grace
        while (left := c.processes()) and time.monotonic() < end:
            time.sleep(0.05)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 10
        while c.processes() and time.monotonic() < end:
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop both clusters, check that no server process is left, remove the folder."""
        unwatch(self._watcher)
        self._watcher = None
        try:
            for c in (self.standby, self.primary):
                if c.pid is not None and (c.data / "postmaster.pid").exists() and _alive(c.pid):
                    self._run(BIN / "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop", timeout=60)
                self._reap(c)
            left = self.primary.processes() + self.standby.processes()
            if left:
                raise RuntimeError(f"PostgreSQL processes {left} still running after stop")
            for shmid in self._shm:  # a SIGKILLed postmaster cannot remove its SysV segment itself
                subprocess.run(["ipcrm", "-m", shmid], capture_output=True, timeout=10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresPair:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except FileNotFoundError:
        return False


class FailoverManager:
    """Watches the primary and promotes the standby after ``checks`` failed health checks in a row.

    A health check is a query on a kept connection (a new connection when it broke); a refused
    connection or a broken one counts as failed. The times are ``time.monotonic()``.
    """

    def __init__(self, pair: PostgresPair, interval: float = 0.05, checks: int = 2) -> None:
        if interval <= 0 or checks < 1:
            raise ValueError(f"interval: {interval} must be > 0 and checks: {checks} >= 1")
        self.pair, self.interval, self.checks = pair, interval, checks
        self.detected_at: float | None = None
        self.promoted_at: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pg-failover", daemon=True)

    def start(self) -> FailoverManager:
        self._thread.start()
        return self

    def _watch(self) -> None:
        conn: psycopg.Connection | None = None
        failed = 0
        try:
            while not self._stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.pair.primary.dsn(connect_timeout="1"), autocommit=True)
                    conn.execute("SELECT 1")
                    failed = 0
                except psycopg.Error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    failed += 1
                    if failed >= self.checks:
                        self.detected_at = time.monotonic()
                        self.pair.promote()
                        self.promoted_at = time.monotonic()
                        return
                self._stop.wait(self.interval)
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.error = e
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(90)
        if self.error is not None:
            raise PostgresUnavailable(f"the failover manager failed: {self.error}") from self.error


__all__ = ["FailoverManager", "PostgresPair", "STANDBY_NAME"]
