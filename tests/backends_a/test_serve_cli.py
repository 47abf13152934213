"""`twin serve payout --store sqlite:///PATH` runs a real uvicorn server; what it answered survives a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from real_backends.cli import SERVICES, app, factory
from real_backends.payout_api import PayoutWorld
from real_backends.rig.failover import _application_json
from real_backends.stores.pgserver import free_port

ROOT = Path(__file__).resolve().parents[2]
WORLD = PayoutWorld(households=40, seed=5)


def _serve(store: str, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "twin.cli", "serve", "payout", "--store", store, "--port", str(port),
           "--set", "households=40", "--set", "seed=5"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"server did not start: {proc.communicate()[0].decode()[-2000:]}")


@pytest.mark.slow
def test_a_served_payout_api_answers_and_keeps_its_answers_across_a_restart(tmp_path: Path) -> None:
    store, port = f"sqlite:///{tmp_path / 'payout.db'}", free_port()
    body = _application_json(WORLD, 2)
    proc = _serve(store, port)
    try:
        first = httpx.post(f"http://127.0.0.1:{port}/applications", json=body, headers={"Idempotency-Key": "k"})
        assert first.status_code == 200 and first.json()["outcome"] == "accepted"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "Myna Twin payout API"
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown: the answer must already be durable
        proc.wait(30)
    proc = _serve(store, port)
    try:
        again = httpx.post(f"http://127.0.0.1:{port}/applications", json=body, headers={"Idempotency-Key": "k"})
        assert again.content == first.content
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended
        assert proc.wait(30) in (0, -signal.SIGTERM), "SIGTERM stops the server"


def test_serve_refuses_an_unknown_service_or_store_by_name(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["nope"])
    assert r.exit_code == 2 and "unknown service 'nope'; choose one of: " in r.output
    r = runner.invoke(app, ["payout", "--store", "mysql://x"])
    assert r.exit_code == 2 and "store URL scheme 'mysql' is not supported" in r.output
    r = runner.invoke(app, ["payout", "--store", f"sqlite:///{tmp_path}/no/such/dir/x.db"])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["payout", "--store", "memory://", "--set", "colour=blue"])
    assert r.exit_code == 2 and "unknown option(s) ['colour']" in r.output
    assert "payout" in SERVICES


def _refusal(*args: str) -> str:
    """``twin serve ARGS`` as a user runs it: exit 2 and exactly one line on stderr, no traceback or box."""
    run = subprocess.run([sys.executable, "-m", "twin.cli", "serve", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: twin serve: "), run.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("payout", "--store", "sqlite:///{tmp}"), "cannot open the SQLite database"),  # a folder, not a file
        (("payout", "--store", "memory://", "--log-level", "loud"), "--log-level 'loud': choose one of"),
        (("payout", "--store", "memory://", "--host", "256.1.1.1"), "--host '256.1.1.1'"),
        (("payout", "--store", "memory://", "--set", "households"), "--set 'households': expected KEY=VALUE"),
        (("nope",), "unknown service 'nope'"),
    ],
)
def test_serve_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    """Each of these was a traceback (exit 1), uvicorn's log line (exit 3) or a rich box before."""
    line = _refusal(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert says in line, line


def test_serve_refuses_a_port_in_use_before_building_the_app() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _refusal("payout", "--store", "memory://", "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in line


@pytest.mark.parametrize(
    ("service", "size", "hi", "allowed"),
    [
        ("payout", "households", "20,000,000", "households, seed"),
        ("linkage", "people", "1,000,000", "people, seed"),
        ("points", "people", "130,000,000", "people, seed, cards"),
    ],
)
def test_a_sized_worlds_options_are_refused_by_name_or_set_over_the_world_its_store_records(
    tmp_path: Path, service: str, size: str, hi: str, allowed: str
) -> None:
    make = factory(service)
    with pytest.raises(ValueError, match=rf"^{service}: unknown option\(s\) \['colour'\]; allowed: {allowed}$"):
        make("memory://", colour="red")
    with pytest.raises(ValueError, match=rf"^{service}: --set {size}: '1e3' must be a whole number in \[1, {hi}\]$"):
        make("memory://", **{size: "1e3"})
    seed = rf"^{service}: --set seed: -1 must be a whole number in \[0, 4,294,967,295\]$"
    with pytest.raises(ValueError, match=seed):
        make("memory://", seed="-1")
    store = f"sqlite:///{tmp_path / 'world.db'}"
    make(store, **{size: "12", "seed": "3"})
    # an option not given keeps what the store records: 12 and seed 3 again, so the store is taken ...
    assert (getattr(make(store, seed="3").state.world, size), make(store, **{size: "12"}).state.world.seed) == (12, 3)
    with pytest.raises(ValueError, match=r"= \(12, 3(, 0)?\), not \(?12, 4"):  # ... another seed is another world
        make(store, seed="4")


@pytest.mark.parametrize("service", ["ocsp", "eligibility", "portal"])
def test_a_world_at_another_epoch_must_name_its_store_and_nothing_is_made_in_the_folder(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The world's clock starts on its store: without ``--store`` the server would make ./twin.db, a store of its
    own (the OCSP responder did, silently). Refused in one line saying why; with a store named, or at the default
    epoch, the server is built (and serving.run called: replaced here) and the folder holds only what was named."""
    from real_backends import serving

    started: list[str] = []
    monkeypatch.setattr(serving, "run", lambda *a, **kw: started.append(service))
    monkeypatch.chdir(tmp_path)
    base = [service, "--port", "0", "--set", "holders=2"]
    refused = CliRunner().invoke(app, [*base, "--set", "epoch=2022-06-01"])
    assert refused.exit_code == 2 and started == [], refused.output
    assert refused.output.startswith("error: twin serve: --set epoch=2022-06-01: a world set at another epoch than "
                                     "the default keeps its clock on its store") and refused.output.count("\n") == 1
    assert "name it with --store" in refused.output
    assert list(tmp_path.iterdir()) == []
    named = CliRunner().invoke(app, [*base, "--set", "epoch=2022-06-01", "--store", "sqlite:///world.db"])
    assert named.exit_code == 0 and started == [service], named.output
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("world.db")] == []
    if service == "ocsp":  # at the default epoch the responder opens no store: nothing is made
        today = CliRunner().invoke(app, [*base, "--set", "epoch=2026-04-01"])
        assert today.exit_code == 0 and started == [service, service], today.output
        assert not (tmp_path / "twin.db").exists()


def test_a_store_named_in_an_error_never_shows_its_password() -> None:
    from real_backends.cli import shown

    assert shown("postgresql://twin:s3cret@127.0.0.1:5432/twin") == "postgresql://twin:***@127.0.0.1:5432/twin"
    assert shown("postgresql://twin:p%40ss@db.example:5432/twin") == "postgresql://twin:***@db.example:5432/twin"
    for url in ("postgresql://twin@127.0.0.1:5432/twin", "sqlite:////tmp/twin.db", "memory://"):
        assert shown(url) == url
