"""Phase-1 points applications from the rollout's own holders, and a sample through the real points ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from twin.models.rollout import points_uptake as pu
from twin.models.rollout.levers import LeverSchedule
from twin.report import Section, Table

DAY0 = dt.date(2020, 1, 1)
N = (dt.date(2022, 3, 31) - DAY0).days + 1


def synthetic(points_lift: float, per_day: float = 60_000.0, lag: int = 30):
    """Applications every day, handed over ``lag`` days later; the points lever on from 2020-03-01
    (announced before the opening, so some holders it drew wait for the opening)."""
    apps = np.full(N, per_day)
    issued = np.concatenate([np.zeros(lag), apps[:-lag]])
    t = np.arange(N)
    lever = np.where(t >= (dt.date(2020, 3, 1) - DAY0).days, points_lift, 0.0)
    return apps, issued, LeverSchedule(DAY0, {"points:phase1": lever}, np.zeros(N))


def test_wiring_the_hazard_is_solved_to_the_end_of_2021_figure() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    assert u.cumulative(pu.FITTED) == pytest.approx(pu.RECORD[-1][1], rel=1e-9)
    assert 0 < u.hazard_per_day < 0.5
    assert [d for d, _, _ in u.checks] == [d for d, _ in pu.RECORD]


def test_nobody_applies_before_the_opening_or_after_the_last_grant_day() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    opening = (pu.PHASE1.applications_from - DAY0).days
    end = (pu.PHASE1.grants_until - DAY0).days
    assert u.applications[:opening].sum() == 0.0 and u.applications[end + 1 :].sum() == 0.0
    assert u.motivated[opening] > u.motivated[opening + 40]  # those the points drew, ready at the opening, come at once


def test_only_cards_applied_for_by_the_deadline_are_eligible() -> None:
    apps, issued, levers = synthetic(1.0)
    deadline = (pu.PHASE1.card_applied_by - DAY0).days
    u = pu.uptake(DAY0, apps, issued, levers)
    assert u.eligible_holders[-1] == pytest.approx(apps[: deadline + 1].sum())
    late = apps.copy()
    late[: deadline + 1] = 0.0  # every card applied for after the deadline
    none = pu.uptake(DAY0, late, np.concatenate([np.zeros(30), late[:-30]]), levers)
    assert none.applications.sum() == 0.0 and np.isnan(none.hazard_per_day)


def test_holders_the_points_drew_apply_sooner_than_the_others() -> None:
    """At one hazard for the others, moving eligible holders from the others to those the points drew
    raises the applications made by every date (they apply within weeks, the others over years)."""
    apps, issued, levers = synthetic(1.0)
    new_m, new_o, _, opening, end = pu._flows(DAY0, apps, issued, pu.motive_share(levers))
    total = new_m + new_o
    few, _ = pu._apply(total * 0.1, total * 0.9, opening, end, 14.0, 0.002)
    many, _ = pu._apply(total * 0.6, total * 0.4, opening, end, 14.0, 0.002)
    assert (np.cumsum(many)[opening:end] > np.cumsum(few)[opening:end]).all()
    weak, strong = pu.uptake(DAY0, *synthetic(0.2)), pu.uptake(DAY0, *synthetic(3.0))
    assert strong.motivated.sum() > weak.motivated.sum()
    assert strong.hazard_per_day < weak.hazard_per_day  # the same 2021 total needs less from the others


def test_the_ledger_grants_a_quarter_of_the_top_ups_up_to_the_cap() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    one_day = np.zeros(N)
    late = (dt.date(2021, 12, 1) - DAY0).days
    one_day[late] = 1.0  # everyone applies on 2021-12-01: one month of 5,000 yen -> 1,250 points
    u_late = pu.Uptake(DAY0, one_day, one_day * 0, u.eligible_holders, u.hazard_per_day, u.checks)
    assert pu.through_ledger(u_late, 5, np.random.default_rng(0)).points_per_applicant == 1_250
    one_day[:] = 0.0
    one_day[(dt.date(2020, 9, 1) - DAY0).days] = 1.0  # sixteen months of top-ups: capped at 5,000
    u_early = pu.Uptake(DAY0, one_day, one_day * 0, u.eligible_holders, u.hazard_per_day, u.checks)
    done = pu.through_ledger(u_early, 5, np.random.default_rng(0))
    assert done.points_per_applicant == 5_000 and done.national_points_yen == 5_000


def test_the_section_shows_record_and_twin_and_which_figure_was_fitted() -> None:
    u = pu.through_ledger(pu.uptake(DAY0, *synthetic(1.0)), 20, np.random.default_rng(1))
    sec = pu.section({"base": u})
    assert isinstance(sec, Section)
    (table,) = [b for b in sec.blocks if isinstance(b, Table) and "record and twin" in b.title]
    assert [r[-1] for r in table.rows] == ["check", "check", "fitted (the hazard)"]
    with pytest.raises(ValueError, match="motivated_delay_days"):
        pu.uptake(DAY0, *synthetic(1.0), delay_days=0)


# -- MyKey reservations, per month, and the public figures as a check --------------------------------------------


def test_reservations_come_first_and_without_waiting_reservers_leave_the_applications_as_they_were() -> None:
    """Every cohort reserves no later and no slower than it applies, and waiting reservers are released only from
    those who reserved, so cumulative reservations never fall below cumulative applications. With nobody waiting
    for a step the reservation step does not move the applications or their fit."""
    plain = pu.uptake(DAY0, *synthetic(1.0), waiting=pu.NO_WAITING)
    for ratio, delay in ((1.0, 14.0), (1.5, 7.0), (3.0, 1.0)):
        for share, pre in ((0.0, 0.0), (0.5, 0.25), (1.0, 1.0)):
            w = pu.Waiting(reserve_delay_days=delay, reserve_ratio=ratio, pre_opening_factor=pre, wait_share=share)
            u = pu.uptake(DAY0, *synthetic(1.0), waiting=w)
            assert (np.cumsum(u.reserved) >= np.cumsum(u.applications) - 1e-6).all()
            assert u.reserved[: (pu.RESERVATIONS_FROM - DAY0).days].sum() == 0.0
            if share == 0.0:
                assert u.applications == pytest.approx(plain.applications, rel=1e-9)
    slow = pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.NO_WAITING, reserve_ratio=1.0))
    quick = pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.NO_WAITING, reserve_ratio=3.0))
    k = (dt.date(2020, 8, 30) - DAY0).days
    assert np.cumsum(quick.reserved)[k] > np.cumsum(slow.reserved)[k]


def _days(first: dt.date, last: dt.date) -> slice:
    return slice((first - DAY0).days, (last - DAY0).days + 1)


def test_reservers_waiting_for_the_opening_apply_in_its_first_days() -> None:
    """Holders who reserved before applications opened apply in the first days: the first five days gain the
    released reservers (about 1 - exp(-5/3) of them), and without pre-opening reservations, or with nobody
    waiting, there is no such rush."""
    on = pu.uptake(DAY0, *synthetic(1.0))
    no_pre = pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.Waiting(), pre_opening_factor=0.0))
    no_wait = pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.Waiting(), wait_share=0.0))
    opening = (pu.PHASE1.applications_from - DAY0).days
    before = on.reserved[:opening].sum()
    assert before > 0 and on.waiting[0] == pytest.approx(pu.WAIT_SHARE * before)
    first5 = _days(dt.date(2020, 7, 1), dt.date(2020, 7, 5))
    gain = on.applications[first5].sum() - no_wait.applications[first5].sum()
    assert gain > 0.5 * on.waiting[0] * -np.expm1(-5 / pu.WAIT_DELAY_DAYS)
    assert no_pre.waiting[0] == 0.0
    for u in (no_pre, no_wait):
        assert on.applications[first5].sum() > 1.5 * u.applications[first5].sum()


def test_reservers_who_waited_apply_when_the_grants_start() -> None:
    """On 2020-09-01 the reservers who had not applied apply within days: September's applications rise above
    August's with them, and do not without them."""
    aug, sep = _days(dt.date(2020, 8, 1), dt.date(2020, 8, 31)), _days(dt.date(2020, 9, 1), dt.date(2020, 9, 30))
    on = pu.uptake(DAY0, *synthetic(1.0))
    off = pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.Waiting(), wait_share=0.0))
    grant = (pu.STEPS[1] - DAY0).days
    waited = np.cumsum(on.reserved)[grant - 1] - np.cumsum(on.applications)[grant - 1]
    assert on.waiting[1] == pytest.approx(pu.WAIT_SHARE * waited, rel=1e-6) and on.waiting[1] > 0
    assert on.applications[sep].sum() > 1.2 * on.applications[aug].sum()
    assert off.applications[sep].sum() < 1.1 * off.applications[aug].sum()


@pytest.mark.parametrize(("field", "value"), [("reserve_delay_days", 0.0), ("reserve_delay_days", 20.0),
                                              ("reserve_ratio", 0.5)])  # fmt: skip
def test_a_reservation_that_could_come_after_the_application_is_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        pu.uptake(DAY0, *synthetic(1.0), **{field: value})


@pytest.mark.parametrize(("field", "value"), [("reserve_from", dt.date(2020, 7, 2)), ("pre_opening_factor", -0.1),
                                              ("pre_opening_factor", 1.5), ("wait_share", 1.01),
                                              ("wait_delay_days", 0.0)])  # fmt: skip
def test_bad_waiting_assumptions_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        pu.uptake(DAY0, *synthetic(1.0), waiting=replace(pu.Waiting(), **{field: value}))


def test_the_ledger_counts_the_sample_per_month_as_the_model_drew_it() -> None:
    """The reservers of the sample go through the real ledger: its monthly counts of reservations and
    applications equal the sample as drawn, nobody applies before reserving, and the sample's months follow
    the model's national series (each month within 4 binomial standard deviations)."""
    u = pu.uptake(DAY0, *synthetic(1.0))
    n = 1_000
    pairs = pu.sample_days(u, n, np.random.default_rng(7))
    assert all(ka is None or ka >= kr for kr, ka in pairs)
    done = pu.through_ledger(u, n, np.random.default_rng(7))
    assert done.ledger_months == done.sample_months and done.ledger_months
    assert sum(r for r, _ in done.ledger_months.values()) == n
    applied = sum(a for _, a in done.ledger_months.values())
    share = u.applications.sum() / u.reserved.sum()
    assert abs(applied - n * share) <= 4 * np.sqrt(n * share * (1 - share))
    for month, (r, _) in done.ledger_months.items():
        first = dt.date.fromisoformat(month + "-01")
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        p = u.count("reservations", first, last) / u.reserved.sum()
        assert abs(r - n * p) <= 4 * np.sqrt(n * p * (1 - p)) + 1, month


def test_monthly_rows_sum_the_daily_series() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    rows = u.monthly()
    assert [m for m, _, _ in rows] == ["2020-06", "2020-07", "2020-08", "2020-09"]
    july = slice((dt.date(2020, 7, 1) - DAY0).days, (dt.date(2020, 8, 1) - DAY0).days)
    assert rows[1][1] == pytest.approx(u.reserved[july].sum())
    assert rows[1][2] == pytest.approx(u.applications[july].sum())
    june = _days(dt.date(2020, 6, 1), dt.date(2020, 6, 30))
    assert rows[0][1] == pytest.approx(u.reserved[june].sum()) and rows[0][1] > 0  # reserved before the opening
    assert rows[0][2] == 0.0  # nobody applies before it
    sec = pu.section({"base": pu.through_ledger(u, 20, np.random.default_rng(1))})
    titles = [b.title for b in sec.blocks if isinstance(b, Table)]
    assert any("per month" in t for t in titles) and any("check" in t for t in titles)


@pytest.fixture(scope="module")
def history_inputs() -> tuple:
    """The inputs of the phase-1 uptake of the history scenario as `twin run scenarios/rollout_history.yaml` runs
    it (expected values, national 1:1, the promoted fit)."""
    from pathlib import Path

    from twin import scenario
    from twin.models.rollout import record_days
    from twin.models.rollout.observed import load_observed
    from twin.models.rollout.setup import calibrated, cells_for, mortality_for
    from twin.models.rollout.simulate import Rollout

    root = Path(__file__).resolve().parents[2]
    s = scenario.load(root / "scenarios/rollout_history.yaml")
    opt = s.options[0]
    p = calibrated(opt.params, opt.params, opt.name)  # type: ignore[arg-type]
    start, end = s.spec.calendar.start, s.spec.calendar.end
    obs = load_observed(root / "twin/data/card_issuance", start, end)
    n = (end - start).days + 1
    r = Rollout(p, cells_for(obs, s.spec.population.statistics), start, n, rng=None,
                record_days=record_days(obs.dates, start, n), mortality=mortality_for(p)).run()  # fmt: skip
    return start, r.daily["applications"] / r.scale, r.daily["issued"] / r.scale, r.levers


@pytest.fixture(scope="module")
def history(history_inputs) -> pu.Uptake:  # noqa: ANN001
    return pu.uptake(*history_inputs)


@pytest.mark.slow
@pytest.mark.parametrize("what", [c[0] for c in pu.CHECKS])
def test_history_run_meets_the_public_figures_of_2020_07_to_10(history: pu.Uptake, what: str) -> None:
    """A check, not a fit: the reservations and applications of the history run against the public figures,
    within TOLERANCE (15 %). Weak evidence for two of them: the reservation ratio was set with the 2020-08-30
    figures in view, the pre-opening reservation factor with the first five days in view."""
    ((_, record, twin_value, err),) = [row for row in history.check_rows() if row[0] == what]
    assert abs(err) <= pu.TOLERANCE, f"{what}: twin {twin_value:,.0f} against {record:,.0f} ({100 * err:+.1f} %)"


@pytest.mark.slow
def test_history_run_misses_the_opening_rush_and_september_without_waiting_reservers(history_inputs) -> None:  # noqa: ANN001
    """The same run with nobody waiting for a step (reservations from 07-01, NO_WAITING) misses the first five days
    (about -64 %) and September (about -35 %): the waiting reservers are what meets those two checks."""
    errs = {what: err for what, _, _, err in pu.uptake(*history_inputs, waiting=pu.NO_WAITING).check_rows()}
    assert errs["applications 2020-07-01..07-05"] < -0.5
    assert errs["applications 2020-08-31..09-30"] < -0.25


@pytest.mark.slow
def test_history_september_holds_over_the_waiting_assumptions_but_not_the_reservation_ratio(history_inputs) -> None:  # noqa: ANN001
    """September's rise comes from the reservers who had not applied (the model's reservations less its
    applications): it stays within TOLERANCE over the whole range of every waiting assumption, and moves with the
    reservation ratio, which the 2020-08-30 reservations check pins."""
    rows = pu.sensitivity(*history_inputs)
    k = [c[0] for c in pu.CHECKS].index("applications 2020-08-31..09-30")
    r = [c[0] for c in pu.CHECKS].index("reservations by 2020-08-30")
    for what, value, errs in rows:
        if what in ("as assumed", *(a for a, _, _ in pu.RANGES if a != "reservation hazard ratio")):
            assert abs(errs[k]) <= pu.TOLERANCE, (what, value, errs[k])
    ratio = [errs for what, _, errs in rows if what == "reservation hazard ratio"]
    assert all(abs(e[k]) > pu.TOLERANCE and abs(e[r]) > pu.TOLERANCE for e in ratio)


@pytest.mark.slow
def test_wiring_the_history_run_reports_reservations_and_applications_per_month(tmp_path) -> None:  # noqa: ANN001
    """`twin run scenarios/rollout_history.yaml`: the monthly reservations and applications are metrics, in the
    summary and in the points section's tables, with the public figures beside them."""
    from pathlib import Path

    from twin import runs, scenario

    root = Path(__file__).resolve().parents[2]
    run = runs.execute(scenario.load(root / "scenarios/rollout_history.yaml"), out=tmp_path)
    summary = run.summary["points_phase1"]["base"]
    df = run.metrics
    for metric, col in (("points_phase1_reservations_month", 1), ("points_phase1_applications_month", 2)):
        got = df[(df.metric == metric) & (df.option == "base")].sort_values("time").value.to_numpy()
        assert got == pytest.approx([row[col] for row in summary["monthly"]])
    assert [row[0] for row in summary["monthly"]] == ["2020-06", "2020-07", "2020-08", "2020-09"]
    daily = df[(df.metric == "points_phase1_reservations") & (df.option == "base")].value.to_numpy()
    assert daily.sum() >= df[(df.metric == "points_phase1_applications") & (df.option == "base")].value.sum()
    text = run.report.read_text()
    assert "reservations and applications per month (twin)" in text and "public figures as a check" in text
    assert [c[0] for c in summary["reservation_checks"]] == [c[0] for c in pu.CHECKS]


def test_the_sample_reserves_through_the_card_check_with_each_reservers_own_card(monkeypatch) -> None:
    """Each reserver of the sample presents her card to the ledger's card check: the same draws give the same
    result (and the same as before the check: every card is good), and a card reported lost before its holder's
    reservation stops the sample, naming the refusal."""
    u = pu.uptake(DAY0, *synthetic(1.0))
    runs = [pu.through_ledger(u, 200, np.random.default_rng(7)) for _ in range(2)]
    a, b = ((r.sample_months, r.ledger_months, r.points_per_applicant) for r in runs)
    assert a == b and a[2] == pytest.approx(4839.572192513369, abs=1e-9)  # recorded before the card check
    built = pu.card_centre

    def one_lost(seed, holders):
        holders = list(holders)
        holders[3] = replace(holders[3], lost=holders[3].issued + dt.timedelta(hours=1))
        return built(seed, holders)

    monkeypatch.setattr(pu, "card_centre", one_lost)
    with pytest.raises(RuntimeError, match="the ledger refused a reservation of .*present the card|not this person"):
        pu.through_ledger(u, 200, np.random.default_rng(7))
