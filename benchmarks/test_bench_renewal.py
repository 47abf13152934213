"""Renewal-wave speed: the FY2025 wave, a full fiscal year by day at 1:1 over all 1,741 town halls.

Target (issue 15): the renewal wave, a full fiscal year by day, at 1:1 in <= 60 s on 2 cores
(``twin run scenarios/capacity_renewal_2025.yaml`` runs five options of it). Run with ``make bench``
or ``.venv/bin/pytest benchmarks/test_bench_renewal.py --benchmark-only -p no:randomly``.
"""

from __future__ import annotations

import pytest

from twin.models.renewal.params import Params
from twin.models.renewal.wave import simulate, towns


@pytest.fixture(scope="module")
def warm():
    return towns()  # the issuance CSVs are read once per process


@pytest.mark.parametrize("window_days", [90, 365])
def test_one_fiscal_year_of_renewals_at_every_town_hall(benchmark, warm, window_days):
    p = Params(window_days=window_days)
    w = benchmark.pedantic(lambda: simulate(p, warm), rounds=2, iterations=1)
    benchmark.extra_info["due_in_fy"] = sum(w.due_fy.values())
    benchmark.extra_info["days"] = int(w.business.size)
    assert len(w.type_index) == 1741 and w.totals["renewed"] > 10e6
