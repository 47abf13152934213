"""A private PC/SC stack for tests and benchmarks: pcscd with the vpcd driver, and emulated cards
served into its virtual reader.

pcscd is started as a child process (foreground, its own reader.conf.d naming a free vpcd port,
so a user's ``twin card serve`` on 35963 is not disturbed) and terminated afterwards; leaving the
context checks that no pcscd process and no /run/pcscd socket remain. Children get
PR_SET_PDEATHSIG, so they die with the test process even if it is killed. Each served card is a
``twin card serve --file PERSO`` child process connected to vpcd on 127.0.0.1. (vpcd itself, the
Debian driver inside pcscd, listens on all interfaces: that is how the driver is built.)

This pcsc-lite build has its socket fixed at /run/pcscd/pcscd.comm, so only one pcscd can run on
the machine: if another one is running, :func:`running_pcscd` fails saying so.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PCSCD = "/usr/sbin/pcscd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
READER = "Virtual PCD 00 00"
OPENSC_PKCS11 = next(
    (
        p
        for p in (
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        )
        if Path(p).exists()
    ),
    "opensc-pkcs11.so",
)


def _die_with_parent() -> None:  # in the child before exec: SIGTERM when the parent dies
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def pcscd_pids() -> list[int]:
    """Live (non-zombie) pcscd processes on this machine."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                comm = (d / "comm").read_text().strip()
                state = (d / "stat").read_text().rsplit(") ", 1)[1][0]
                if comm == "pcscd" and state != "Z":
                    pids.append(int(d.name))
    return pids


def _free_port_pair() -> int:
    """A port P with P and P+1 free (vpcd listens on both, one per virtual reader)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for vpcd")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Pcscd:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    reader: str = READER


@contextlib.contextmanager
def running_pcscd(workdir: Path) -> Iterator[Pcscd]:
    """A private pcscd whose vpcd listens on a free port; gone (with its socket) on exit."""
    for path in (PCSCD, VPCD_DRIVER):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} missing: run `make sysdeps` (pcscd, vsmartcard-vpcd)")
    others = pcscd_pids()
    if others:
        raise RuntimeError(f"another pcscd is running (pid {others}); {PCSCD_SOCKET} is shared")
    conf = workdir / "reader.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    port = _free_port_pair()
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:{port:#x}\n'
        f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    {port:#x}\n"
    )
    log = workdir / "pcscd.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [PCSCD, "--foreground", "--error", "-c", str(conf)],
            stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
    try:
        from real_backends.pcsc import list_readers

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"pcscd exited with {proc.returncode}: {log.read_text()[-500:]}")
            try:
                return PCSCD_SOCKET.exists() and READER in list_readers()
            except Exception:
                return False

        wait_for(ready, "pcscd to list the vpcd reader")
        yield Pcscd(proc, port, log)
    finally:
        _stop(proc)
        wait_for(lambda: not pcscd_pids() and not PCSCD_SOCKET.exists(), "pcscd and its socket to go", 10)


def _card_present(reader: str) -> bool:
    from real_backends.pcsc import PcscReader

    r = PcscReader(reader)
    try:
        r.connect()
    except Exception:
        return False
    r.disconnect()
    return True


@contextlib.contextmanager
def served_card(pcscd: Pcscd, perso_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``twin card serve --file perso_file`` into the vpcd reader; removed again on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "card", "serve", "--file", str(perso_file),
         "--port", str(pcscd.port), "--contact-timeout", "60"],  # a busy machine may poll late
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        def present() -> bool:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"card process exited with {proc.returncode}: {err}")
            return _card_present(pcscd.reader)

        wait_for(present, "the card in the vpcd reader", 30)
        yield proc
    finally:
        _stop(proc)
        if proc.stderr:
            proc.stderr.close()
        wait_for(lambda: not _card_present(pcscd.reader), "the card to leave the vpcd reader", 10)


def opensc_environment(workdir: Path) -> dict[str, str]:
    """Environment for OpenSC tools: a private opensc.conf without file caching, private HOME."""
    conf = workdir / "opensc.conf"
    conf.write_text("app default {\n  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n")
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "OPENSC_CONF": str(conf), "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
