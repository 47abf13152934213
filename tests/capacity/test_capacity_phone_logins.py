"""Logins by the smartphone JPKI token in the capacity model (issue 18 item 6, the capacity scenario).

A phone login replaces a card login at the portal and the revocation service, asks about the phone's own
certificate, adds the phone's certificate pair at the CA, and locks the PIN out less often. These tests hold
the demand and the pools to that mechanism on short horizons (a few days to a few weeks, under a second).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _cli_checks import assert_run_refused

from emulators.phone_se import BiometricRefused, BiometricUnlock, SmartphoneToken
from twin import scenario as sc
from twin.models.capacity import report_phones
from twin.models.capacity.aggregate import pool_loads, simulate
from twin.models.capacity.demand import (
    build_demand,
    cards_held_history,
    interpolate,
    phone_issues_per_day,
    phone_share_by_day,
    week_to_business_days,
)
from twin.models.capacity.params import PHONE_START, Params
from twin.services.jpki.smartphone import SERVICE_START

UPTAKE = [(0, 0.0), (1, 0.1), (3, 0.3)]
MONDAY = dt.date(2025, 7, 7)


def _days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def test_the_capacity_model_uses_the_token_services_start_dates() -> None:
    assert {p.value: d for p, d in SERVICE_START.items()} == PHONE_START


def test_each_platform_takes_up_phones_from_its_own_start() -> None:
    p = Params(phones={"uptake": UPTAKE, "android_share": 0.4})
    before_android, before_iphone, after_iphone = (dt.date(2023, 5, 10), dt.date(2025, 6, 23), dt.date(2025, 6, 24))
    share = phone_share_by_day(p, [before_android, before_iphone, after_iphone, dt.date(2030, 1, 1)])
    assert share[0] == 0.0  # nobody before Android's start
    android_years = (before_iphone - PHONE_START["android"]).days / 365.25  # 2.12 years: between the points
    assert share[1] == pytest.approx(0.4 * (0.1 + (android_years - 1) / 2 * 0.2))
    # the iPhone's start adds its holders at their curve's first point (0): no jump on its first day
    later = (after_iphone - PHONE_START["android"]).days / 365.25
    assert share[2] == pytest.approx(0.4 * (0.1 + (later - 1) / 2 * 0.2))
    assert share[3] == pytest.approx(0.3)  # both platforms past their last point
    assert phone_share_by_day(Params(), [after_iphone]).tolist() == [0.0]


def test_a_phone_login_replaces_a_card_login_at_the_portal_and_the_revocation_service() -> None:
    none, phones = Params(), Params(phones={"uptake": UPTAKE})
    a, b = build_demand(none, MONDAY, 7), build_demand(phones, MONDAY, 7)
    la, lb = pool_loads(none, a), pool_loads(phones, b)
    assert b.phone_logins.sum() > 0
    np.testing.assert_allclose(b.phone_logins, b.logins * b.phone_share)
    for pool in ("eligibility", "portal", "ocsp", "linkage"):  # one status question per login either way
        np.testing.assert_allclose(lb[pool][0], la[pool][0], rtol=1e-12, err_msg=pool)
    # the phone certificates have their own pre-signed cache: a colder one makes the revocation pool slower
    cold = Params(phones={"uptake": UPTAKE, "presigned_share": 0.5})
    lc = pool_loads(cold, build_demand(cold, MONDAY, 7))
    busy = b.phone_logins > 0
    assert (lc["ocsp"][1][busy] > lb["ocsp"][1][busy]).all()
    np.testing.assert_allclose(lb["ocsp"][1], la["ocsp"][1])  # same cache share: same service time


def test_under_crl_the_phone_partitions_are_signed_once_phones_log_in() -> None:
    rev = {"mode": "crl", "crl_partitions": 100, "crl_downloads_per_day": 24}
    none = Params(revocation=rev)
    phones = Params(revocation=rev, phones={"uptake": UPTAKE, "crl_partitions": 5})
    before = dt.date(2023, 5, 1)  # no platform served yet: no phone partitions
    for day, extra in ((before, 0), (MONDAY, 5)):
        a = pool_loads(none, build_demand(none, day, 2))["ocsp"][0]
        b = pool_loads(phones, build_demand(phones, day, 2))["ocsp"][0]
        np.testing.assert_allclose(b - a, extra)


def test_the_ca_issues_every_new_and_replaced_phone_a_pair() -> None:
    """Sum the issuance over a month: it is the phone holders gained plus the phones replaced, where the phone
    holders are the card holders times the phone share (the stated assumption)."""
    p = Params(phones={"uptake": UPTAKE, "replacement_years": 4})
    days = _days(dt.date(2025, 9, 1), 30)
    issued = phone_issues_per_day(p, days)
    every = [days[0] - dt.timedelta(days=1), *days]
    holders = np.array([interpolate(cards_held_history(), d) for d in every]) * phone_share_by_day(p, every)
    assert np.all(np.diff(holders) > 0)  # growing in this month, so every day's gain is issued
    assert issued.sum() == pytest.approx(holders[-1] - holders[0] + holders[1:].sum() / (4 * 365.25))
    # the CA pool gets them on top of the counter renewals, each at the measured cost per phone
    none = Params()
    a, b = build_demand(none, MONDAY, 7), build_demand(p, MONDAY, 7)
    ca_a, ca_b = pool_loads(none, a)["ca"], pool_loads(p, b)["ca"]
    np.testing.assert_allclose(ca_b[0] - ca_a[0], b.phone_issues, atol=1e-9)
    work = ca_b[0] * ca_b[1]
    np.testing.assert_allclose(work, a.renewals * p.service_times.certificate_issue
                               + b.phone_issues * p.service_times.phone_issue, rtol=1e-9)


def test_biometric_unlock_takes_pin_resets_away_from_the_counters() -> None:
    rates = {"pin_lockouts_per_card_login": 1e-3, "biometric_share": 0.8}
    base = build_demand(Params(phones=rates), MONDAY, 14).pin_resets.sum()
    shares = [(0, 0.0), (1, 0.1), (3, 0.3)], [(0, 0.0), (1, 0.3), (3, 0.6)]
    resets = [build_demand(Params(phones={**rates, "uptake": u}), MONDAY, 14) for u in shares]
    assert base > resets[0].pin_resets.sum() > resets[1].pin_resets.sum()
    d = resets[1]
    card, phone = (d.logins - d.phone_logins).sum(), d.phone_logins.sum()
    typed = 0.2 + 0.8 * 0.03**3  # no biometric set up, or all three tries failed
    assert d.pin_resets.sum() == pytest.approx((card + phone * typed) * 1e-3)  # two whole weeks: all done in them
    same = build_demand(Params(phones={"uptake": shares[1], "biometric_share": 0.0}), MONDAY, 14)
    assert same.pin_resets.sum() == pytest.approx(base * 0.2)  # no biometric unlock: the phones change nothing
    hours = d.pin_resets.reshape(14, 24)
    assert hours[5:7].sum() == hours[12:14].sum() == 0.0  # counters closed at weekends
    assert hours[:, :8].sum() == 0.0  # and before 08:30


def test_the_pin_is_typed_as_often_as_the_phone_tokens_own_unlock_falls_back() -> None:
    """Play the phone token's biometric unlock (emulators.phone_se) 200,000 times: the share that falls back
    to the PIN is the capacity model's, for the token's own match rate and tries."""
    bio = BiometricUnlock(match_rate=0.6, max_tries=3)  # a poor sensor, so the fall-backs are many enough to count
    token = SimpleNamespace(biometric=bio, _sealed_pin="1234")
    rng = np.random.default_rng(18)
    n, fell_back = 200_000, 0
    for _ in range(n):
        try:
            SmartphoneToken.release_pin(token, rng)  # type: ignore[arg-type]
        except BiometricRefused:
            fell_back += 1
    ph = Params(phones={"biometric_share": 1.0, "biometric_match_rate": bio.match_rate,
                        "biometric_tries": bio.max_tries, "pin_lockouts_per_card_login": 1.0}).phones
    expected = ph.pin_lockouts_per_phone_login
    assert fell_back / n == pytest.approx(expected, abs=4 * (expected * (1 - expected) / n) ** 0.5)
    default = BiometricUnlock()
    assert (Params().phones.biometric_match_rate, Params().phones.biometric_tries) == (default.match_rate,
                                                                                        default.max_tries)


def test_a_weeks_counter_work_goes_to_that_weeks_business_days() -> None:
    days = _days(dt.date(2025, 7, 7), 14)  # Mon 7 .. Sun 20 (no holiday until Marine Day, 21 July)
    per_day = np.arange(14, dtype=float)
    out = week_to_business_days(days, per_day)
    assert out[:5] == pytest.approx([per_day[:7].sum() / 5] * 5)
    assert out[7:12] == pytest.approx([per_day[7:].sum() / 5] * 5)
    assert out[5:7].sum() == out[12:].sum() == 0.0


def test_the_phone_section_reports_what_the_run_computed() -> None:
    opts = {"none": Params(), "phones": Params(phones={"uptake": UPTAKE})}
    start = dt.date(2025, 9, 22)  # across the half-year boundary
    res = {k: simulate(p, build_demand(p, start, 14)) for k, p in opts.items()}
    heads = {k: report_phones.headline(res[k], p) for k, p in opts.items()}
    halves = [r["period"] for r in heads["phones"]["by_half_year"]]
    assert halves == ["FY2025 H1", "FY2025 H2"]
    assert heads["phones"]["phone_logins"] == pytest.approx(res["phones"].demand.phone_logins.sum())
    assert heads["phones"]["pin_resets"] < heads["none"]["pin_resets"]
    (section,) = report_phones.sections(res, heads, opts)
    text = section.blocks[0].text
    assert f"{heads['phones']['phone_issues']:,.0f} phones a pair" in text


def test_wiring_the_bundled_scenario_grows_the_phone_share() -> None:
    ups = [o.params.phones.uptake for o in sc.load("scenarios/capacity_phones.yaml").options]
    assert ups[0] == []  # the baseline: every login by card
    assert [u[-1][1] for u in ups[1:]] == sorted(u[-1][1] for u in ups[1:]) and ups[1][-1][1] > 0


@pytest.mark.parametrize(("params", "message"), [
    ("phones: {uptake: [[2, 0.1], [1, 0.2]]}", "params.phones.uptake: a list of 2 items [2.0, 1.0]: the years "
     "since the service start must increase, e.g. [[0, 0], [1, 0.1], [3, 0.3]]"),
    ("phones: {uptake: [[0, 1.5]]}", "params.phones.uptake[0][1]: 1.5 is not in [0, 1]"),
    ("phones: {android_share: -0.1}", "params.phones.android_share: -0.1 is not in [0, 1]"),
    ("phones: {replacement_years: 0}", "params.phones.replacement_years: 0 is not in [1, 10]"),
])
def test_bad_phone_input_exits_2_naming_the_field(tmp_path: Path, params: str, message: str) -> None:
    assert_run_refused(tmp_path, "name: x\nkind: capacity\nseed: 1\npopulation: {scale: 1}\n"
                       f"calendar: {{start: 2025-07-07, end: 2025-07-08}}\nparams:\n  {params}\n", message)
