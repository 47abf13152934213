"""The load driver: open-model arrivals, latency from the intended time, and its run folder.

Specifications: arrivals follow the plan (Poisson counts near the expected number, same seed same
times, the demand curve peaks on Monday morning for eligibility); a server that stalls shows up as
latency even for requests that were due while it stalled (no coordinated omission); the run folder
holds the summary, the tidy metrics, the HTML with the predicted-vs-measured table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from real_backends.load import arrivals as arr
from real_backends.load.driver import Samples, drive, server_ms
from real_backends.load.http import HttpClient
from real_backends.load.report import predicted, response_quantile
from twin.models.failover.params import Demand
from twin.sim.erlang import mean_response


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(1, 2000), duration=st.floats(0.5, 60), seed=st.integers(0, 2**32 - 1))
def test_constant_arrivals_are_sorted_inside_the_run_and_reproducible(rate, duration, seed):
    plan = arr.constant(rate, duration)
    a = arr.arrival_times(plan, np.random.default_rng(seed))
    b = arr.arrival_times(plan, np.random.default_rng(seed))
    assert np.array_equal(a, b)
    assert np.all(np.diff(a) >= 0) and (a.size == 0 or (a[0] >= 0 and a[-1] < duration))
    expected = rate * duration
    assert abs(a.size - expected) <= 6 * np.sqrt(expected) + 1


def test_a_ramp_sends_more_at_the_end_than_at_the_start():
    plan = arr.ramp(*arr.parse_ramp("10:1000"), 20)
    a = arr.arrival_times(plan, np.random.default_rng(1))
    assert (a > 15).sum() > 5 * (a < 5).sum()  # mean rates 134/s and 876/s in those 5 s
    assert plan.expected() == pytest.approx((10 + 1000) / 2 * 20)


def test_the_demand_day_peaks_on_monday_morning_for_eligibility_checks():
    plan = arr.demand_day(Demand(), dt.date(2025, 1, 1), "eligibility-card", 24.0, 1.0)
    assert "Monday 2025-01-06" in plan.description
    peak_hour = int(np.argmax(plan.rates))
    assert 8 <= peak_hour <= 11
    assert plan.rates[3] < plan.rates[peak_hour] / 20  # 03:00 is quiet


@pytest.mark.parametrize(("text", "message"), [
    ("100", "use START:END"), ("a:b", "use START:END"), ("-1:5", ">= 0"), ("0:0", "not both 0"),
])  # fmt: skip
def test_bad_ramps_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        arr.parse_ramp(text)


def test_bad_rates_and_durations_name_the_option():
    with pytest.raises(ValueError, match="--rate"):
        arr.constant(0, 10)
    with pytest.raises(ValueError, match="--duration"):
        arr.constant(10, -1)


async def _tiny_server(answer: bytes, delay_s: float = 0.0, close_after: int | None = None):
    """A loopback HTTP/1.1 server: reads each request head (and body), waits ``delay_s``, writes ``answer``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)  # fmt: skip
                await reader.readexactly(length)
                await asyncio.sleep(delay_s)
                writer.write(answer)
                await writer.drain()
                served += 1
                if close_after is not None and served >= close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


OK_50MS = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nserver-timing: app;dur=50.0\r\n\r\nok"


def test_latency_counts_from_the_intended_time_when_the_server_stalls():
    """One connection, a server that takes 50 ms: requests due every 10 ms wait in line and say so."""

    async def send(client: HttpClient, i: int) -> tuple[int, float]:
        r = await client.get("/x")
        return r.status_code, server_ms(r)

    arrivals = np.arange(10) * 0.01

    async def go() -> Samples:
        server, url = await _tiny_server(OK_50MS, delay_s=0.05)
        async with server:
            return await drive(url, send, arrivals, concurrency=1)

    samples = asyncio.run(go())
    assert samples.ok.all() and np.all(samples.server_ms == 50.0)
    # the k-th request completes after (k+1) * 50 ms of service but was due at k * 10 ms
    expected = (np.arange(10) + 1) * 0.05 - arrivals
    assert np.all(samples.latency >= expected - 0.002)
    assert samples.latency[-1] > 0.4


def test_the_lean_client_reads_lengths_and_chunks_reconnects_and_names_failures():
    chunked = b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"

    async def go() -> None:
        server, url = await _tiny_server(chunked)
        async with server, HttpClient(url, max_connections=2) as client:
            r = await client.post("/p", json={"a": 1})
            assert (r.status_code, r.content) == (201, b"abcde")
        server, url = await _tiny_server(OK_50MS, close_after=1)  # closes every kept-alive connection
        async with server, HttpClient(url, max_connections=1) as client:
            for _ in range(3):  # the second and third go out on a fresh connection, unseen by the caller
                assert (await client.get("/x")).content == b"ok"
        server, url = await _tiny_server(OK_50MS, delay_s=1.0)
        async with server, HttpClient(url, timeout_s=0.1) as client:
            with pytest.raises(TimeoutError):
                await client.get("/slow")
        server, url = await _tiny_server(b"SMTP ready\r\n\r\n")
        async with server, HttpClient(url) as client:
            with pytest.raises(ConnectionError, match="not an HTTP/1.1 status line"):
                await client.get("/")
        server, url = await _tiny_server(OK_50MS)
        server.close()
        await server.wait_closed()
        async with HttpClient(url) as client:
            with pytest.raises(ConnectionError):
                await client.get("/")
        with pytest.raises(ValueError, match="plain http://host:port"):
            HttpClient("https://example.org")

    asyncio.run(go())


def test_the_model_prediction_is_m_m_c_with_the_measured_service_time():
    n = 1000
    samples = Samples(np.linspace(0, 10, n, endpoint=False), np.full(n, 0.01), np.full(n, 200),
                      np.full(n, 4.0), 8)
    p = predicted(samples, 10.0, 2)
    assert p["service_ms"] == pytest.approx(4.0)
    assert p["utilisation"] == pytest.approx(100 * 0.004 / 2)
    assert p["p50"] < mean_response(100, 250, 2) * 1000 * 1.5
    assert response_quantile(0.5, 1e-9, 250, 2) == pytest.approx(np.log(2) / 250, rel=1e-3)


@pytest.mark.system
def test_twin_load_writes_a_run_folder_with_the_prediction(tmp_path):
    from real_backends.load.run import run_load

    result = run_load("ocsp", "scenarios/failover_architectures.yaml", rate=40, duration=2, holders=8,
                      workers=1, concurrency=8, out=tmp_path)
    s = result.summary
    assert s["requests"] == len(result.samples.intended) > 40
    assert s["errors"] == 0 and s["latency_ms"]["p50"] > 0
    assert s["predicted_ms"]["service_ms"] > 0
    html = (result.folder / "index.html").read_text()
    assert "Predicted (M/M/c) vs measured latency" in html
    metrics = pd.read_parquet(result.folder / "metrics.parquet")
    assert set(metrics.metric) == {"sent", "ok", "errors", "latency_ms"}
    assert metrics[metrics.metric == "sent"].value.sum() == s["requests"]
    assert json.loads((result.folder / "manifest.json").read_text())["inputs"]["target"] == "ocsp"


def test_twin_load_refuses_bad_options_by_name(tmp_path):
    from real_backends.load.run import plan_for

    with pytest.raises(ValueError, match="TARGET: 'nope'"):
        plan_for("nope", "scenarios/failover_architectures.yaml", rate=1, ramp=None, duration=1, scale=1)
    with pytest.raises(ValueError, match="not both"):
        plan_for("ocsp", "scenarios/failover_architectures.yaml", rate=1, ramp="1:2", duration=1, scale=1)
