"""A backend in a child process: uvicorn on a free loopback port, stopped without leftovers.

Tests, benchmarks and ``twin load --serve`` need a real server to talk to over TCP. :func:`serve`
starts ``python -m real_backends.serving --factory <app>`` (uvicorn) in its own process group with
the deployment spec in its environment, waits until it answers, yields its base URL, and on exit
terminates the whole group (workers included), killing it if it does not stop within a few seconds.
:func:`twin_serve` does the same for the ``twin serve`` command itself (stores, ``--set`` options,
``--workers``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from real_backends.load.deployment import DeploymentSpec

APPS = {
    "ocsp": "real_backends.ocsp_api:app_from_env",
    "portal": "real_backends.portal_hub:app_from_env",
    "eligibility": "real_backends.eligibility_api:app_from_env",
}
ROOT = Path(__file__).resolve().parents[2]


class ServedUrl(str):
    """The base URL of a served backend; ``pid`` is its process (and process group) id."""

    pid: int


def _served(url: str, pid: int) -> ServedUrl:
    served = ServedUrl(url)
    served.pid = pid
    return served


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(
    service: str,
    spec: DeploymentSpec,
    *,
    workers: int = 1,
    ready_path: str = "/openapi.json",
    timeout_s: float = 120.0,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """Run ``service`` (ocsp, portal, eligibility) for ``spec``; yields ``http://127.0.0.1:PORT``
    (``https://`` with ``tls`` = (certificate PEM, key PEM): uvicorn terminates TLS itself)."""
    if service not in APPS:
        raise ValueError(f"service: {service!r} is not allowed; use one of {', '.join(APPS)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: {workers!r} is not allowed; use an integer >= 1")
    port = free_port()
    scratch = tempfile.TemporaryDirectory(prefix="myna-serve-")
    env = {**os.environ, **(env or {}), **spec.to_env(), "PYTHONPATH": str(ROOT)}
    env.setdefault("MYNA_PORTAL_SECRET", os.urandom(32).hex())  # shared by the workers, fresh per server
    if workers > 1:  # single-use challenges across workers: one SQLite ledger for all of them
        env.setdefault("MYNA_PORTAL_LEDGER", str(Path(scratch.name) / "used-challenges.sqlite"))
    cmd = [  # uvicorn with the twin's connection limits, timeouts and worker lifetime (real_backends.serving)
        sys.executable, "-m", "real_backends.serving", "--factory", APPS[service], "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
    ]
    if tls is not None:
        cmd += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{service} server exited with code {proc.returncode} before answering")
            try:
                if httpx.get(url + ready_path, timeout=1.0, verify=False).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} server did not answer within {timeout_s:.0f} s")
            time.sleep(0.1)
        if workers > 1:  # every worker builds its deployment: give the slowest time to join
            _wait_workers(url + ready_path, proc, workers)
        yield _served(url, proc.pid)
    finally:
        _stop(proc)
        scratch.cleanup()
        if log_path:
            log.close()  # type: ignore[union-attr]


def _wait_workers(url: str, proc: subprocess.Popen[bytes], workers: int) -> None:
    """Poll until ``workers`` distinct worker pids have answered (uvicorn gives no readiness signal)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=2.0, limits=httpx.Limits(max_keepalive_connections=0), verify=False) as client:
        while len(seen) < workers and time.monotonic() < deadline and proc.poll() is None:
            try:
                seen.add(client.get(url).headers.get("x-worker", "?"))
            except httpx.TransportError:
                pass
            if "?" in seen:  # the app does not say who answered: settle for a fixed grace period
                time.sleep(3)
                return
            time.sleep(0.05)


@contextlib.contextmanager
def twin_serve(
    service: str,
    store: str,
    options: dict[str, str] | None = None,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    ready_path: str = "/openapi.json",
    timeout_s: float = 600.0,
) -> Iterator[str]:
    """``twin serve SERVICE --store STORE --set K=V ... --workers N`` on a free loopback port.

    Yields the base URL once the server answers ``ready_path`` (the start may include loading a
    store: hence the long default timeout). On exit the whole process group is stopped and waited
    for, workers and multiprocessing helpers included; :class:`RuntimeError` if the server exits
    before answering (with the end of its output) or a process of it outlives the stop.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "twin.cli", "serve", service, "--store", store, "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    for key, value in (options or {}).items():
        cmd += ["--set", f"{key}={value}"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log,
                                start_new_session=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"twin serve {service} exited with code {proc.returncode}: {tail}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(url + ready_path, timeout=1.0, verify=False).status_code < 500:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"twin serve {service} did not answer within {timeout_s:.0f} s")
                time.sleep(0.1)
            yield _served(url, proc.pid)
        finally:
            _stop(proc)
            _wait_group_gone(proc.pid)


def _wait_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    """Wait until no process of group ``pgid`` is left (SIGKILL the rest after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, 0)
                raise RuntimeError(f"processes of group {pgid} outlived SIGKILL")
            return
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
