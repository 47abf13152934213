"""Card test fixtures: a private pcscd with the vpcd driver, and emulated cards served into it.

pcscd is started as a child of the test session (foreground, its own reader.conf.d naming a free
vpcd port, so a user's ``twin card serve`` on 35963 is not disturbed) and killed afterwards; the
teardown checks that no pcscd process and no /run/pcscd socket are left. Each served card is a
``twin card serve --file PERSO`` child process connected to vpcd on 127.0.0.1.

This pcs-lite build has its socket fixed at /run/pcscd/pcscd.comm, so only one pcscd can run on
the machine: if another one is running the fixture fails with that message.
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

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]
PCSCD = "/usr/sbin/pcscd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
OPENSC_PKCS11 = next(
    (p for p in ("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
                 "/usr/lib/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so") if Path(p).exists()),
    "opensc-pkcs11.so",
)


def _die_with_parent() -> None:  # runs in the child before exec: SIGTERM when the test process dies
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pcscd_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                comm = (d / "comm").read_text().strip()
                state = (d / "stat").read_text().split(") ", 1)[1][0]
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


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Pcscd:
    process: subprocess.Popen[bytes]
    port: int
    reader: str = "Virtual PCD 00 00"


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    for path in (PCSCD, VPCD_DRIVER):
        assert Path(path).exists(), f"{path} missing: run `make sysdeps` (Debian pcscd, vsmartcard-vpcd)"
    others = _pcscd_pids()
    assert not others, f"another pcscd is running (pid {others}); its socket {PCSCD_SOCKET} is shared"
    conf = tmp_path_factory.mktemp("reader.conf.d")
    port = _free_port_pair()
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:{port:#x}\n'
        f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    {port:#x}\n"
    )
    log = (tmp_path_factory.mktemp("pcscd") / "pcscd.log").open("wb")
    proc = subprocess.Popen(
        [PCSCD, "--foreground", "--error", "-c", str(conf)],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
    )
    try:
        from real_backends.pcsc import list_readers

        def ready() -> bool:
            assert proc.poll() is None, f"pcscd exited with {proc.returncode}"
            try:
                return PCSCD_SOCKET.exists() and "Virtual PCD 00 00" in list_readers()
            except Exception:
                return False

        _wait_for(ready, "pcscd to list the vpcd reader")
        yield Pcscd(proc, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        _wait_for(lambda: not _pcscd_pids() and not PCSCD_SOCKET.exists(), "pcscd and its socket to go", 10)


@dataclass
class ServedCard:
    process: subprocess.Popen[bytes]
    reader: str
    perso_file: Path


@pytest.fixture
def serve_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[Callable[..., ServedCard]]:
    """``serve_card(perso)``: put a card with that personalisation into the vpcd reader."""
    from real_backends.pcsc import PcscReader

    started: list[ServedCard] = []

    def start(perso: object) -> ServedCard:
        assert not started, "one card at a time in this reader"
        path = perso.save(tmp_path / f"perso-{len(started)}.json")  # type: ignore[attr-defined]
        proc = subprocess.Popen(
            [sys.executable, "-m", "twin.cli", "card", "serve", "--file", str(path),
             "--port", str(pcscd.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
        )

        def present() -> bool:
            assert proc.poll() is None, f"card process exited: {proc.stderr.read().decode()}"  # type: ignore[union-attr]
            r = PcscReader(pcscd.reader)
            try:
                r.connect()
            except Exception:
                return False
            r.disconnect()
            return True

        _wait_for(present, "the card in the vpcd reader", 30)
        card = ServedCard(proc, pcscd.reader, path)
        started.append(card)
        return card

    yield start
    for card in started:
        card.process.terminate()
        try:
            card.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            card.process.kill()
            card.process.wait()
        if card.process.stderr:
            card.process.stderr.close()
        # the card must be gone from the reader before the next test serves one
        from real_backends.pcsc import PcscReader as _R

        def absent() -> bool:
            r = _R(pcscd.reader)
            try:
                r.connect()
            except Exception:
                return True
            r.disconnect()
            return False

        _wait_for(absent, "the card to leave the vpcd reader", 10)


@pytest.fixture
def opensc_env(tmp_path: Path) -> dict[str, str]:
    """Environment for OpenSC tools: a private opensc.conf without file caching, private HOME."""
    conf = tmp_path / "opensc.conf"
    conf.write_text(
        "app default {\n  debug = 0;\n  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    env.update(OPENSC_CONF=str(conf), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    return env
