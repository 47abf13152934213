"""Server faults: silent connections time out, connections are bounded, workers die with their supervisor.

A real ``twin serve`` on loopback with small limits set through the environment (the same code
paths as the defaults: 10 s header timeout, 4,096 connections). Nothing here is timed against the
wall clock except the server's own timeouts, and those are waited for with generous margins.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from real_backends import serving
from real_backends.load.server import free_port, twin_serve

ROOT = Path(__file__).resolve().parents[2]
SILENT = 3000  # connections that never send a byte
CAP = 1000  # the server's connection limit in these tests
HEADER_TIMEOUT_S = 3.0
LIMITS = {"MYNA_SERVE_MAX_CONNECTIONS": str(CAP), "MYNA_SERVE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
          "MYNA_SERVE_BODY_TIMEOUT_S": "3"}  # fmt: skip


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _closed_by_server(s: socket.socket, wait_s: float) -> bool:
    """True when the server closed ``s`` (EOF or reset) within ``wait_s``."""
    s.settimeout(wait_s)
    try:
        return s.recv(4096) == b""
    except TimeoutError:
        return False
    except OSError:  # reset
        return True


@contextlib.contextmanager
def _fd_room(n: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n and (hard == resource.RLIM_INFINITY or hard >= n):
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    elif soft < n:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the {n} descriptors this test opens")
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_thousands_of_silent_connections_neither_exhaust_the_server_nor_stop_real_requests() -> None:
    with _fd_room(SILENT + 1000), twin_serve("payout", "memory://", {"households": "20"}, env=LIMITS) as url:
        host, port = urlparse(url).hostname, urlparse(url).port
        statuses: list[int | str] = []
        stop = threading.Event()

        def real_client() -> None:  # a new connection per request: each one has to get in
            with httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as c:
                while not stop.is_set():
                    try:
                        statuses.append(c.get("/health").status_code)
                    except httpx.HTTPError as e:
                        statuses.append(type(e).__name__)
                    time.sleep(0.01)

        worker = threading.Thread(target=real_client, daemon=True)
        worker.start()
        silent: list[socket.socket] = []
        most_fds = 0
        try:
            for i in range(SILENT):
                silent.append(socket.create_connection((host, port), timeout=30))
                if i % 250 == 0:
                    most_fds = max(most_fds, _open_fds(url.pid))
            most_fds = max(most_fds, _open_fds(url.pid))
            with httpx.Client(base_url=url, timeout=30) as c:
                during = c.get("/health").status_code
            pushed_out = sum(_closed_by_server(s, 0.01) for s in silent[: SILENT - CAP])
            time.sleep(HEADER_TIMEOUT_S + 2)
            timed_out = sum(_closed_by_server(s, 5) for s in silent)
        finally:
            stop.set()
            worker.join(60)
            for s in silent:
                s.close()
        with httpx.Client(base_url=url, timeout=30) as c:
            after = c.get("/health").status_code
    real_ok = statuses.count(200)
    print(f"{SILENT} silent connections, server limit {CAP}: at most {most_fds} descriptors open in the server; "
          f"{pushed_out} of the oldest {SILENT - CAP} pushed out at once, {timed_out}/{SILENT} closed after the "
          f"{HEADER_TIMEOUT_S:.0f} s header timeout; real requests meanwhile: {real_ok}/{len(statuses)} answered 200")
    assert statuses and all(s == 200 for s in statuses), statuses
    assert during == 200 and after == 200
    assert most_fds < CAP + serving.FD_RESERVE, "the server's descriptors stay bounded by its connection limit"
    assert pushed_out == SILENT - CAP, "at the limit the longest-idle connections make room"
    assert timed_out == SILENT, "no silent connection outlives the header timeout"


@pytest.mark.slow
def test_a_half_sent_request_gets_408_and_is_closed() -> None:
    with twin_serve("payout", "memory://", {"households": "20"}, env=LIMITS) as url:
        address = (urlparse(url).hostname, urlparse(url).port)
        with socket.create_connection(address, timeout=30) as headers_only:
            headers_only.sendall(b"GET /health HTTP/1.1\r\nHost: twin\r\n")  # the blank line never comes
            with socket.create_connection(address, timeout=30) as body_short:
                body_short.sendall(b"POST /verifications HTTP/1.1\r\nHost: twin\r\ncontent-type: application/json\r\n"
                                   b"content-length: 40\r\n\r\n{\"on\":")  # fmt: skip
                for s in (headers_only, body_short):
                    s.settimeout(HEADER_TIMEOUT_S + 20)
                    answer = b""
                    while chunk := s.recv(4096):
                        answer += chunk
                    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
                    assert b"connection: close" in answer
        with socket.create_connection(address, timeout=30) as pipelined:  # two requests in one write: both answered
            pipelined.sendall(b"GET /health HTTP/1.1\r\nHost: twin\r\n\r\n"
                              b"GET /health HTTP/1.1\r\nHost: twin\r\nConnection: close\r\n\r\n")  # fmt: skip
            answer = b""
            while chunk := pipelined.recv(4096):
                answer += chunk
            assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2, answer[:400]


def test_limits_come_from_the_environment_and_bad_ones_are_named() -> None:
    lim = serving.limits({"MYNA_SERVE_HEADER_TIMEOUT_S": "2.5", "MYNA_SERVE_MAX_CONNECTIONS": "64"})
    assert (lim.header_timeout_s, lim.max_connections, lim.keep_alive_s) == (2.5, 64, serving.KEEP_ALIVE_S)
    with pytest.raises(ValueError, match="MYNA_SERVE_MAX_CONNECTIONS='lots': not a number"):
        serving.limits({"MYNA_SERVE_MAX_CONNECTIONS": "lots"})
    with pytest.raises(ValueError, match="MYNA_SERVE_HEADER_TIMEOUT_S: -1.0 is not allowed"):
        serving.limits({"MYNA_SERVE_HEADER_TIMEOUT_S": "-1"})
    assert serving.connection_cap(4096, 1024) == 1024 - serving.FD_RESERVE, "the limit fits the descriptors"
    options = serving.uvicorn_options()
    assert options["http"] is serving.GuardedHttpToolsProtocol and options["backlog"] <= 2048


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _serve(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "twin.cli", "serve", "payout", "--store", "memory://", "--port", str(port),
           "--workers", "2", "--set", "households=20"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def _wait_health(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"twin serve exited with {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("twin serve --workers 2 did not answer")


@pytest.mark.slow
def test_killing_the_supervisor_with_sigkill_takes_its_workers_down_and_frees_the_port() -> None:
    port = free_port()
    proc = _serve(port)
    workers: list[int] = []
    try:
        _wait_health(port, proc)
        deadline = time.monotonic() + 120
        while len(workers := [p for p in _children(proc.pid) if _alive(p)]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # (multiprocessing may add a helper; the two uvicorn workers are among them)
        assert len(workers) >= 2, workers
        os.kill(proc.pid, signal.SIGKILL)  # the supervisor only: no chance to stop its workers
        proc.wait(30)
        deadline = time.monotonic() + 60
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
        assert not left, f"workers {left} outlived their supervisor"
        again = _serve(port)  # the same port: free again
        try:
            _wait_health(port, again)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(again.pid, signal.SIGTERM)
            again.wait(60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for p in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
