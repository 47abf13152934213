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
