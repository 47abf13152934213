"""The licence centre as a channel of the renewal wave (issue 18 item 5): licensed cards renewed, the licence
carried over under the continuation from 2025-09-01 or re-recorded at a licence centre. 40 town halls keep the
runs fast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from _cli_checks import assert_run_refused

from twin.models.renewal import licence
from twin.models.renewal.params import Params
from twin.models.renewal.wave import simulate, towns
from twin.scenario import load
from twin.services.licence import continuation_refusal

ROOT = Path(__file__).resolve().parents[2]
SUBSET = np.arange(0, 1741, 43)


@pytest.fixture(scope="module")
def wave():  # noqa: ANN201
    return simulate(Params.model_validate({"lifecycle_sample": 0}), towns(), subset=SUBSET)


def _flows(wave, **change):  # noqa: ANN001, ANN003, ANN202
    p = licence.LicenceChannel(enabled=True, **change)
    return licence.flows(p, wave.dates(), wave.renewed_daily[:, 0, :].sum(axis=0))


def test_wiring_licensed_holders_are_the_npa_counts_at_their_dates() -> None:
    """A wiring test: the holders are an input (NPA's counts), read back at their dates."""
    p = licence.LicenceChannel(enabled=True)
    dates = np.array([np.datetime64(d) for d, _, _ in licence.NPA_HOLDERS] + [np.datetime64("2025-03-23")])
    h, only = licence.holders(p, dates)
    assert h.tolist() == [117_589.0, 868_188.0, 0.0]
    assert only[1] == pytest.approx(280_527 / 868_188)


def test_the_carried_share_is_the_services_rule_over_the_conditions() -> None:
    p = licence.LicenceChannel(enabled=True, online_share=0.5, certificate_at_police_share=0.6,
                               wants_sign_certificate_share=0.9)  # fmt: skip
    assert licence.carried_share(p, dt.date(2025, 8, 31)) == 0.0
    assert licence.carried_share(p, dt.date(2025, 9, 1)) == pytest.approx(0.5 * 0.6 * 0.9)
    # the same rule a single card meets at the licence centre's service
    assert continuation_refusal(dt.date(2025, 9, 1), "expiry", True, True, True) is None
    assert continuation_refusal(dt.date(2025, 8, 31), "expiry", True, True, True) == "before_continuation"


def test_every_licensed_renewal_is_carried_over_re_recorded_or_lost(wave) -> None:  # noqa: ANN001
    f = _flows(wave)
    assert np.allclose(f.carried_over + f.re_recorded + f.lost, f.licensed_renewals)
    assert min(f.carried_over.min(), f.re_recorded.min(), f.lost.min()) >= 0.0
    before = f.dates < np.datetime64("2025-09-01")
    assert f.carried_over[before].sum() == 0.0 and f.re_recorded[before].sum() > 0.0
    assert f.carried_over[~before].sum() > 0.0
    # the licensed share of the wave's cards follows the holders: none before the licence's start on the card
    assert f.licensed_renewals[f.dates < np.datetime64("2025-03-24")].sum() == 0.0
    cards = wave.renewed_daily[:, 0, :].sum(axis=0)
    late = f.dates == np.datetime64("2025-06-30")
    assert f.licensed_renewals[late][0] == pytest.approx(cards[late][0] * 868_188 / 100_129_804)


def test_an_earlier_continuation_and_more_certificates_mean_fewer_re_records(wave) -> None:  # noqa: ANN001
    fy = (dt.date(2025, 4, 1), dt.date(2026, 3, 31))
    runs = {"as_done": _flows(wave), "launch": _flows(wave, continuation_start=dt.date(2025, 3, 24)),
            "late": _flows(wave, continuation_start=dt.date(2026, 9, 1)),
            "certs": _flows(wave, certificate_at_police_share=0.9)}  # fmt: skip
    re = {k: f.in_window(*fy)["re_recorded"] for k, f in runs.items()}
    assert re["launch"] < re["as_done"] < re["late"], re
    assert re["certs"] < re["as_done"], re
    assert runs["late"].in_window(*fy)["carried_over"] == 0.0


def test_the_bundled_scenario_runs_the_licence_channel_in_every_option() -> None:
    s = load(ROOT / "scenarios/renewal_licence_2025.yaml")
    assert all(o.params.licence.enabled for o in s.options)
    assert [o.params.licence.continuation_start for o in s.options][:3] == [
        dt.date(2025, 9, 1), dt.date(2025, 3, 24), dt.date(2026, 9, 1)]


@pytest.mark.parametrize(
    "params,message",
    [
        ("licence: {enabled: true, continuation_start: 2024-01-01}",
         "params.licence.continuation_start: 2024-01-01"),
        ("licence: {enabled: true, online_share: 1.5}", "params.licence.online_share: 1.5"),
        ("licence: {enabled: true, typo: 1}", "params.licence.typo"),
    ],
)
def test_bad_licence_parameters_are_refused_by_name(tmp_path, params, message) -> None:  # noqa: ANN001
    assert_run_refused(tmp_path, "name: x\nkind: renewal\nseed: 1\npopulation: {scale: 1}\n"
                       f"calendar: {{start: 2025-04-01, end: 2026-03-31}}\nparams:\n  {params}\n", message)
