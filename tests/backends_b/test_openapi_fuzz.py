"""Each server's OpenAPI document says what the server does: ``schemathesis run --checks all`` finds nothing.

The real command line a user would run, against the real server over loopback: every check
schemathesis has (no 5xx, only documented status codes, content types and headers, responses
that match their schemas, schema-valid requests accepted and invalid ones refused, 405 with
``Allow`` for undocumented methods, ...) in all its phases (examples, coverage, fuzzing, stateful),
with a fixed seed and a bounded number of examples so that a run is reproducible and short.

``schemathesis_hooks.py`` (loaded through ``SCHEMATHESIS_HOOKS``) tells schemathesis what JSON
Schema cannot: how to build a DER OCSPRequest, that a client makes a new Idempotency-Key for each
new submission, and that transfer batches go out on business days. The rules it steps around are
tested on their own (tests/backends_a/test_payout_api.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from real_backends import ocsp_api, portal_api
from real_backends.load.server import serve, twin_serve

from .conftest import SPEC

ROOT = Path(__file__).resolve().parents[2]
SEED = 20260401
MAX_EXAMPLES = {"payout": 10, "ocsp": 20, "portal": 20, "eligibility": 20, "linkage": 20, "points": 20,
                "points-portal": 20}


def schemathesis_command() -> str:
    local = Path(sys.executable).with_name("schemathesis")
    found = str(local) if local.exists() else shutil.which("schemathesis")
    if found is None:
        raise RuntimeError("schemathesis is not installed: `make test` installs it with the dev extras")
    return found


#: the services with a world of their own (``twin serve SERVICE --set ...``); the others serve the deployment SPEC
#: (the points world with cards, so that its reservations' card refusals are checked against the document too;
#: tests/backends_b/test_points_api_fuzz.py fuzzes one without; points-portal is ``twin serve points`` over the
#: portal's world, set in 2022 when phase 2's parts were granted: real_backends/points_hub.py)
WORLDS = {"payout": {"households": "30", "seed": "1"}, "linkage": {"people": "30", "seed": "1"},
          "points": {"people": "30", "seed": "1", "cards": "12"},
          "points-portal": {"world": "portal", "holders": "8", "seed": "1", "epoch": "2022-06-01"}}  # fmt: skip


#: schemathesis's statuses for a rejected schema-violating request, and 413: a request violating a maxLength may,
#: with the JSON escapes schemathesis writes (a string of 8,000 "©" is 48 KB), be larger than the server takes at all,
#: which it refuses with 413 before reading it (each server's own bad-input tests pin that answer)
NEGATIVE_DATA_CONFIG = """[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
"""


@contextlib.contextmanager
def server(service: str) -> Iterator[str]:
    served = service.partition("-")[0]  # points-portal: twin serve points --set world=portal
    with twin_serve(served, "memory://", WORLDS[service]) if service in WORLDS else serve(service, SPEC) as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("service", ["payout", "ocsp", "portal", "eligibility", "linkage", "points", "points-portal"])
def test_schemathesis_run_checks_all_finds_nothing(service: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.backends_b.schemathesis_hooks",
           "NO_COLOR": "1"}  # fmt: skip
    (tmp_path / "schemathesis.toml").write_text(NEGATIVE_DATA_CONFIG)
    with server(service) as url:
        cmd = [schemathesis_command(), "run", f"{url}/openapi.json", "--checks", "all", "--seed", str(SEED),
               "--max-examples", str(MAX_EXAMPLES[service]), "--workers", "1", "--request-timeout", "30",
               # Hypothesis's own timing health check depends on how busy the machine is, not on the API
               "--suppress-health-check", "too_slow"]  # fmt: skip
        run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    out = run.stdout + run.stderr
    assert run.returncode == 0, f"{' '.join(cmd)}\n{out[-6000:]}"
    counts = re.search(r"(\d+) generated, (\d+) passed", out)
    assert counts is not None and int(counts[1]) == int(counts[2]) > 0, out[-3000:]
    assert "failure" not in out.split("Test cases:")[-1] and "error" not in out.split("Test cases:")[-1].lower()
    print(f"{service}: {counts[0]}")  # in the report with -s / -rP


def test_twin_serve_factories_build_the_apps_from_set_options() -> None:
    assert ocsp_api.serve_app("memory://", holders="2", revoked_every="0") is not None
    with pytest.raises(ValueError, match="--set colour: unknown option"):
        ocsp_api.serve_app("memory://", colour="red")
    with pytest.raises(ValueError, match="not an integer"):
        portal_api.serve_app("memory://", holders="many")
