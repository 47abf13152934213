"""Certificate renewal on the smartphone in the renewal wave (issue 18 item 6, the rollout option).

Only holders who use a smartphone whose platform the smartphone JPKI service serves that day can renew on the
phone; those who do skip the counter and go straight to the CA. 40 town halls keep the runs fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from _cli_checks import assert_run_refused

from twin.models.renewal import report
from twin.models.renewal.params import Params
from twin.models.renewal.wave import phone_share_by_day, simulate, towns
from twin.scenario import load
from twin.services.jpki.smartphone import SERVICE_START, Platform

SUBSET = np.arange(0, 1741, 43)


def _run(**update) -> object:  # noqa: ANN003
    return simulate(Params.model_validate({"lifecycle_sample": 0, **update}), towns(), subset=SUBSET)


@pytest.fixture(scope="module")
def waves() -> dict:
    return {"counter_only": _run(), "phone_30": _run(smartphone_share=0.3)}


def test_only_owners_of_a_served_phone_can_renew_on_it() -> None:
    p = Params(smartphone_share=0.3, smartphone={"owner_share": 0.7, "android_share": 0.4})
    iphone = SERVICE_START[Platform.IPHONE]
    day0 = iphone - dt.timedelta(days=2)
    share = phone_share_by_day(p, day0, 4)
    assert share == pytest.approx([0.3 * 0.7 * 0.4] * 2 + [0.3 * 0.7] * 2)
    before_android = SERVICE_START[Platform.ANDROID] - dt.timedelta(days=1)
    assert phone_share_by_day(p, before_android, 2) == pytest.approx([0.0, 0.3 * 0.7 * 0.4])


def test_each_days_phone_renewals_are_that_days_certificate_renewals_times_the_share(waves) -> None:  # noqa: ANN001
    w = waves["phone_30"]
    p = Params(smartphone_share=0.3)
    share = phone_share_by_day(p, w.day0, w.business.size)
    np.testing.assert_allclose(w.smartphone_daily, w.acted[1] * share, rtol=1e-9)
    assert w.smartphone == pytest.approx(w.smartphone_daily.sum())
    assert waves["counter_only"].smartphone == 0.0


def test_phone_renewals_take_load_off_the_counters_and_lose_nobody(waves) -> None:  # noqa: ANN001
    base, phone = waves["counter_only"], waves["phone_30"]
    t = phone.totals
    assert t["renewed"] + t["in_process"] + t["lapsed"] + t["not_started"] == pytest.approx(t["due"], rel=1e-9)
    assert t["due"] == pytest.approx(base.totals["due"])
    assert phone.counter_served.sum() < base.counter_served.sum()
    assert phone.counter_queue_daily.sum(axis=0).max() < base.counter_queue_daily.sum(axis=0).max()
    waited = [w.counter_days.sum() / w.counter_served.sum() for w in (base, phone)]
    assert waited[1] < waited[0]
    # the phone renewals still reach the CA: more renewed certificates by the year's end, not fewer
    assert phone.renewed[:, 1].sum() > base.renewed[:, 1].sum()


def test_the_report_section_states_the_runs_counts(waves) -> None:  # noqa: ANN001
    heads = {k: report.headline(w) for k, w in waves.items()}
    params = {"counter_only": Params(), "phone_30": Params(smartphone_share=0.3)}
    section = report.smartphone_section(waves, heads, params)
    h, b = heads["phone_30"], heads["counter_only"]
    text = section.blocks[0].text
    assert f"{h['smartphone_renewals_in_fy']:,.0f} certificate renewals on the phone" in text
    assert f"{b['counter_visits_in_fy'] - h['counter_visits_in_fy']:,.0f} fewer counter visits" in text
    (row_base, row_phone) = section.blocks[1].rows
    assert row_phone[2] == pytest.approx(h["smartphone_renewals_in_fy"]) and row_base[2] == 0.0


def test_wiring_the_bundled_scenario_tries_shares_across_the_range() -> None:
    s = load("scenarios/renewal_smartphone_2025.yaml")
    assert [o.params.smartphone_share for o in s.options] == [0.0, 0.1, 0.3, 0.5]


def test_the_report_shows_the_assumed_range_beside_the_share() -> None:
    rows = {a.name: a for a in report.assumptions(Params(smartphone_share=0.3), [])}
    assert "assumed range 0-0.5" in rows["smartphone_share"].value
    assert rows["smartphone.owner_share"].source.startswith("MIC")


@pytest.mark.parametrize(("params", "message"), [
    ("smartphone: {android_share: 2}", "params.smartphone.android_share: 2 is not in [0, 1]"),
    ("smartphone: {owners: 0.5}", "params.smartphone.owners"),
])
def test_bad_smartphone_input_exits_2_naming_the_field(tmp_path: Path, params: str, message: str) -> None:
    assert_run_refused(tmp_path, "name: x\nkind: renewal\nseed: 1\npopulation: {scale: 1}\n"
                       f"calendar: {{start: 2025-04-01, end: 2026-03-31}}\nparams:\n  {params}\n", message)
