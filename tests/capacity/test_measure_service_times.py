"""The capacity scenario's service times: measured on the code and on the real servers over HTTP.

Specification: scripts/measure_service_times.py times every path in process and, for the paths a
server answers, the CPU one uvicorn worker spends per request under wrk; a request over HTTP costs
the worker more than the code path alone (parsing, framework), and the scenario's defaults are the
HTTP figures where they exist.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from twin.models.capacity.params import ServiceTimes, measured_service_times

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("measure_service_times", ROOT / "scripts/measure_service_times.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scenario_defaults_to_the_http_figures_where_a_path_is_served():
    doc = measured_service_times()
    times = ServiceTimes()
    for name, seconds in doc["seconds"].items():
        assert getattr(times, name) == doc.get("seconds_http", {}).get(name, seconds)
    assert "certificate_issue" not in doc["seconds_http"], "issuance is a counter operation, not an HTTP request"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make sysdeps)")
def test_over_http_a_worker_spends_more_than_the_code_path(tmp_path):
    script = _script()
    out = tmp_path / "times.json"
    assert script.main(["--repeats", "3", "--seconds", "1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    code, http = doc["seconds"], doc["seconds_http"]
    assert set(http) == {"ocsp_fresh", "ocsp_cached", "crl_download", "eligibility_card_pin", "eligibility_card_face",
                         "eligibility_number", "portal_login"}  # fmt: skip
    assert all(v > 0 for v in http.values())
    for name in ("ocsp_cached", "eligibility_card_pin", "eligibility_number", "portal_login"):
        assert http[name] > code[name], f"{name}: HTTP and the framework cost the worker nothing?"
    assert "wrk" in doc["http_method"] and doc["machine"]["cpus"] >= 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make sysdeps)")
def test_single_use_card_answers_are_never_sent_twice_when_the_worker_outruns_them():
    """Fewer signed answers than the worker can answer in the run: the run of that path stops when they
    are used up instead of replaying them (a replayed challenge is refused with 409, which the script
    rightly counts as a failed measurement). Before the fix this raised "N of M answers were not 2xx"
    whenever a machine answered more than the bodies prepared, e.g. 390 of 5,390."""
    http = _script().measure_http(1, card_bodies=60)
    assert http["eligibility_card_pin"] > 0 and http["portal_login"] > 0


def test_summarise_recovers_a_lognormal_from_its_samples():
    """The distributions the script writes: mean, cv, quantiles and the lognormal fit of the samples."""
    import numpy as np

    x = np.random.default_rng(3).lognormal(np.log(0.001), 0.5, 20_000)
    d = _script().summarise(x)
    assert d["n"] == 20_000
    assert d["lognormal_sigma"] == pytest.approx(0.5, rel=0.03)
    assert d["mean"] == pytest.approx(0.001 * np.exp(0.5**2 / 2), rel=0.02)
    assert d["cv"] == pytest.approx(np.sqrt(np.exp(0.25) - 1), rel=0.05)
    assert d["p50"] < d["p90"] < d["p95"] < d["p99"]
    with pytest.raises(ValueError, match="samples"):
        _script().summarise([0.001, -1.0])


def test_wiring_the_distributions_block_gives_the_scenarios_tls_and_database_seconds():
    """Wiring: from (mocked) HTTP/HTTPS and PostgreSQL samples the block carries the provenance and the two
    figures 'measured' resolves to: TLS = HTTPS - HTTP worker CPU per request, database = mean lookup."""
    s = _script()
    http = {k: {**s.summarise([0.001, 0.002, 0.003]), "server_cpu_per_request": cpu}
            for k, cpu in (("http_keepalive", 3e-4), ("https_keepalive", 3.5e-4), ("https_new_connection", 1.5e-3))}
    pg = {"lookup": s.summarise([1e-4, 2e-4, 3e-4]), "rows": 1000, "build_seconds": 0.5, "table_bytes": 1}
    doc = s.distributions_doc(http, pg, ["--distributions"])
    block = doc["distributions"]
    assert block["tls_seconds"] == pytest.approx(5e-5) and block["tls_handshake_seconds"] == pytest.approx(1.15e-3)
    assert block["database_seconds"] == pytest.approx(2e-4) and block["book_rows"] == 1000
    assert block["command"].endswith("--distributions") and "measured_at" in block
    assert set(block["seconds"]) == {"eligibility_number_http_keepalive", "eligibility_number_https_keepalive",
                                     "eligibility_number_https_new_connection", "postgres_lookup"}


def test_wiring_measured_tls_and_database_resolve_from_the_committed_distributions():
    from twin.models.capacity.params import Requests

    block = measured_service_times()["distributions"]
    r = Requests(tls_seconds="measured", database_seconds="measured")
    assert r.tls_seconds == block["tls_seconds"] and r.database_seconds == block["database_seconds"]
    assert Requests().database_seconds == block["database_seconds"], "the default is the measured round trip"
    assert block["book_rows"] >= 1_000_000, "the round trips are against the 1M-insured book"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/lib/postgresql/15/bin/initdb").exists(), reason="PostgreSQL 15 is not installed")
def test_a_tiny_distributions_run_measures_https_over_http_and_a_filled_book(tmp_path):
    """The real servers, small: HTTPS with a new connection per request costs the worker a TLS handshake
    (far more CPU than a kept-alive request), and the book holds the rows asked for."""
    out = tmp_path / "times.json"
    s = _script()
    assert s.main(["--code-only", "--distributions", "--repeats", "1", "--requests", "200", "--book-rows", "20000",
                   "--lookups", "200", "--out", str(out)]) == 0
    block = json.loads(out.read_text())["distributions"]
    assert block["book_rows"] == 20000 and block["seconds"]["postgres_lookup"]["n"] == 200
    sec = block["seconds"]
    assert (sec["eligibility_number_https_new_connection"]["server_cpu_per_request"]
            > 2 * sec["eligibility_number_https_keepalive"]["server_cpu_per_request"])
