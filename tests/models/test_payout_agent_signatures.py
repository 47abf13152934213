"""Issue 13 item 6: in the agent run every online application the ledger checks is signed by the
applicant's emulated card and verified with real RSA; altered forms are refused and counted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.experiments import InlineExecutor
from twin.models.payout import households_from_nation, payment_calendar
from twin.models.payout.agent import simulate_agent
from twin.models.payout.behaviour import ONLINE, plan_households
from twin.models.payout.params import Params
from twin.population import build_nation
from twin.runs import stream_key

DAY0 = dt.date(2020, 4, 30)
SCALE = 0.0001  # about 5,800 households


@pytest.fixture(scope="module")
def run() -> dict:
    nation = build_nation(SCALE, np.random.default_rng(3), card_date=dt.date(2020, 4, 27))
    hh, mun = households_from_nation(nation)
    p = Params.model_validate({"agent": {"signature_check": "all", "bad_signature_share": 0.2, "partitions": 2}})
    plan = plan_households(hh, mun, p, DAY0, lambda n: np.random.default_rng([3, stream_key(n)]), SCALE)
    cal = payment_calendar(p, DAY0, 120, [])
    result, counts = simulate_agent(nation, hh, mun, plan, p, cal, DAY0, (3, 1, 0), executor=InlineExecutor())
    return {"plan": plan, "counts": counts, "result": result}


def test_with_all_every_online_application_is_checked(run: dict) -> None:
    c = run["counts"]
    assert c["signature:unchecked"] == 0
    assert c["signature:checked"] >= (run["plan"].route == ONLINE).sum()  # first forms, duplicates, corrections
    assert c["cards:signatures"] + c["signature:unsigned"] == c["signature:checked"]
    assert c["cards:issued"] <= c["cards:signatures"]  # a card is issued once and signs again


def test_altered_forms_are_refused_counted_and_corrected(run: dict) -> None:
    c = run["counts"]
    bad = c["signature:bad_signature"]
    assert bad == c["signature:altered_checked"] > 0
    assert abs(bad / c["signature:checked"] - 0.2) < 0.06  # the assumed share, up to noise
    assert c["rejected:signature_invalid"] == bad + c["signature:unsigned"]
    assert c.get("signature:altered_unchecked", 0) == 0
    # the households came back with a correctly signed form: they were paid like the others
    r = run["result"]
    assert r.paid_households.sum() / r.entitled_households.sum() > 0.9
