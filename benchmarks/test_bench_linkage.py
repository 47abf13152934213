"""Linkage queries through the service core, in process on one core (target: >= 20,000 queries/s).

A town hall (千代田区) asks Osaka city for the assessed income of 20,000 residents it has enrolled,
for child allowance: lawful table check, code translation by the issuer (AES), the provider's
intermediate server and its copy, the exchange record filed under the person's portal code, the
answer with the copy's age. No taps (the tests check every message; this measures the service).

Run with ``make bench`` or ``.venv/bin/pytest benchmarks/test_bench_linkage.py --benchmark-only -s``.

Measured 2026-12-04 22:07 UTC on the shared 2-core build machine (load average 3.45 / 4.25 / 3.36 before
the run; ``nice -n 10 .venv/bin/python -m pytest benchmarks/test_bench_linkage.py --benchmark-only -s``):
94,558 queries/s wall (best of 3 rounds of 20,000), 93,184 per CPU-second: the target is met.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest

from twin.services.linkage import AnswerMessage, Item, Linkage, RegistryResidentCodes, TaxAssessment
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore

PEOPLE = 20_000
TOWN, CITY = "muni:131016", "muni:271004"
JST = dt.timezone(dt.timedelta(hours=9))
AT = dt.datetime(2021, 7, 1, 10, tzinfo=JST)


@pytest.fixture(scope="module")
def world() -> tuple[Linkage, list]:
    rng = np.random.default_rng(0)
    store = MemoryStore()
    reg = ResidentRegistry.load(store, as_of=dt.date(2021, 1, 1), municipality=np.full(PEOPLE, 13101),
                                age=rng.integers(0, 90, PEOPLE), sex=rng.integers(1, 3, PEOPLE),
                                household=np.arange(PEOPLE), is_head=np.ones(PEOPLE, bool), rng=rng)  # fmt: skip
    link = Linkage.build(store, RegistryResidentCodes(reg), bytes(range(32)))
    town, city = link.network.agency(TOWN), link.network.agency(CITY)
    codes = []
    for i in range(PEOPLE):
        number = reg.resident(i, dt.date(2021, 1, 1)).my_number
        city.record(number, Item.LOCAL_TAX_INCOME, TaxAssessment(2021, 1000 * i, True), dt.date(2021, 4, 1))
        codes.append(town.code_for(number))
    city.refresh(dt.datetime(2021, 6, 20, 2, tzinfo=JST))
    return link, codes


def test_linkage_queries_per_second(benchmark, world) -> None:  # noqa: ANN001
    link, codes = world
    query = link.network.query

    def run() -> int:
        found = 0
        for code in codes:
            found += query(TOWN, code, "child_allowance", CITY, "local_tax_income", AT).found  # type: ignore[union-attr]
        return found

    found = benchmark.pedantic(run, rounds=3, iterations=1)
    assert found == PEOPLE
    assert isinstance(query(TOWN, codes[0], "child_allowance", CITY, "local_tax_income", AT), AnswerMessage)
    rate = PEOPLE / benchmark.stats.stats.min
    cpu = time.process_time()
    run()
    cpu_rate = PEOPLE / (time.process_time() - cpu)  # per CPU-second: what one core does, even on a busy machine
    benchmark.extra_info["queries"] = PEOPLE
    benchmark.extra_info["queries_per_s_min_time"] = round(rate)
    benchmark.extra_info["queries_per_cpu_s"] = round(cpu_rate)
    print(f"\nlinkage: {rate:,.0f} queries/s wall (best of 3), {cpu_rate:,.0f} per CPU-second (target >= 20,000)")
