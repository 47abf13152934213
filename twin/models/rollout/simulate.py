"""The national rollout, day by day: residents decide, J-LIS prints, town halls hand over.

Picture the whole country from January 2016: each morning the residents without a card weigh the
day's reasons to apply (the hazard model), the applications join J-LIS's production line, the
printed cards travel to the town halls, and holders come to the counters by appointment while
other residents queue there to reset a PIN or renew a certificate. :class:`Rollout` holds that
state as arrays and advances it with one SimPy process per stage (residents, production,
shipment, appointments, counters, recorder), all stepping once a day in that order.

``rng=None`` gives expected values (smooth in the parameters: what calibration needs); with a
Generator, each cell's applications are binomial draws (what replications need).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import simpy

from twin.models.rollout.chain import COUNTER_CLASSES, AppointmentPool, Counters, DelayLine, ProductionLine
from twin.models.rollout.hazard import N_BANDS, Cells, daily_probability_rate, lever_response, static_log_hazard
from twin.models.rollout.levers import LeverSchedule, build_levers
from twin.models.rollout.params import Params

#: daily national series every run records
SERIES = (
    "applications", "produced", "delivered_to_town_hall", "appointments", "issued", "pin_resets_served",
    "renewals_served", "backlog_checking_and_production", "backlog_in_transit", "backlog_awaiting_appointment",
    "backlog_counter_handover", "backlog_counter_pin_reset", "backlog_counter_renewal", "wait_production_days",
    "wait_counter_days", "wait_counter_days_big_cities", "holders", "issued_cumulative", "holder_deaths",
    "backlog_applied_not_issued", "uncollected", "production_capacity", "counter_staff_factor",
)  # fmt: skip

#: municipality types whose counter waits are reported apart (FIGURES.md: 1-2 months in big cities)
BIG_CITIES = ("special_ward", "designated_city")


@dataclass
class RolloutResult:
    """What one run of the chain produced (counts in the simulated population; divide by scale)."""

    day0: dt.date
    n_days: int
    scale: float
    daily: dict[str, np.ndarray]
    holders_by_type: np.ndarray  # (days, 4) living holders
    record_days: list[int]
    holders_muni: np.ndarray  # (R, M) cards in living holders' hands at each record day
    issued_muni: np.ndarray  # (R, M) cards handed over so far, dead holders' included: what MIC's releases count
    issued_mix: np.ndarray  # (R, 21, 2) the same by age band at the release's age reference (aged_mix)
    applied_mix: np.ndarray  # (R, 21, 2)
    levers: LeverSchedule
    totals: dict[str, float] = field(default_factory=dict)
    #: residents per municipality (national scale: already divided by the scale)
    muni_population: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: the licence and residence channels' daily series (channels.SERIES; empty when both are off)
    channels: dict[str, np.ndarray] = field(default_factory=dict)

    def conservation_gap(self) -> float:
        """Applications not accounted for: applied - handed over - waiting at every stage (should be ~0)."""
        return self.totals["applied"] - self.totals["in_hand"] - self.totals["waiting"]


def business_days(day0: dt.date, n: int, closed: list[dt.date] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(business day, weekend day that is not a holiday) masks over ``n`` days from ``day0``."""
    from twin.sim.calendar import Calendar

    cal = Calendar(day0, day0 + dt.timedelta(days=n - 1))
    days = [day0 + dt.timedelta(days=d) for d in range(n)]
    closed_set = set(closed or [])
    business = np.array([cal.is_business_day(d) and d not in closed_set for d in days])
    weekend = np.array([d.weekday() >= 5 and not cal.is_holiday(d) and not cal.is_year_end_closure(d) for d in days])
    return business, weekend


def step_schedule(points: list[tuple[dt.date, float]], day0: dt.date, n: int) -> np.ndarray:
    """A step function over days: each (from date, value) holds until the next one."""
    out = np.zeros(n)
    for d, v in sorted(points):
        out[max(0, (d - day0).days) :] = v
    return out


def production_capacity(params: Params, day0: dt.date, n: int) -> np.ndarray:
    """J-LIS cards per day: the sourced steps plus each expansion from its decision + lead time."""
    cap = step_schedule(params.production.capacity, day0, n)
    for e in params.production.expansions:
        start = (e.decided - day0).days + e.lead_days
        cap[max(0, start) :] += e.cards_per_day
    return cap


def usual_staff(params: Params, cells: Cells, muni_pop: np.ndarray) -> np.ndarray:
    """Hand-over staff per town hall before any surge or response: staff per 100,000 residents by type."""
    from twin.population.municipalities import MUNICIPALITY_TYPES

    ho = params.handover
    return np.array([ho.staff_per_100k[t] for t in MUNICIPALITY_TYPES])[cells.muni_type] * muni_pop / 1e5


def counter_minutes(params: Params, cells: Cells, muni_pop: np.ndarray, day0: dt.date, n: int,
                    business: np.ndarray, weekend: np.ndarray) -> np.ndarray:  # fmt: skip
    """Counter minutes per day and town hall: staff x opening hours, more staff from the surge day (the
    staff response, when on, multiplies these day by day: :meth:`Rollout.counter`)."""
    ho = params.handover
    staff = usual_staff(params, cells, muni_pop)
    days = day0 + np.arange(n) * dt.timedelta(days=1)
    surge = np.where(np.array([d >= ho.surge_staff_from for d in days]), ho.surge_staff_factor, 1.0)
    open_ = np.where(business, 1.0 + ho.evening_extra, 0.0) + np.where(weekend, ho.weekend_open_share
                                                                        * ho.weekend_capacity, 0.0)  # fmt: skip
    return (open_ * surge)[:, None] * (staff * ho.opening_hours * 60.0)[None, :]


#: years of age one band spans (the MIC age table's 5-year bands; the last, 100+, is open)
BAND_YEARS = 5.0


def _shift(c: np.ndarray, u: float) -> np.ndarray:
    """(21, 2) counts moved ``u`` bands up (a fraction ``frac(u)`` one band further), stopping at 100+."""
    out = np.zeros_like(c)
    k, f = int(u), u - int(u)
    for part, step in ((1.0 - f, k), (f, k + 1)):
        if part <= 0:
            continue
        if step == 0:
            out += part * c
        elif step < N_BANDS:
            out[step:] += part * c[:-step]
            out[-1] += part * c[N_BANDS - step :].sum(axis=0)
        else:
            out[-1] += part * c.sum(axis=0)
    return out


def aged_mix(handed: np.ndarray, handed_day: np.ndarray, reference_day: float,
             mortality: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Cards by age band and sex at an age reference day, from cards handed over per period by the band at hand-over.

    ``handed`` is (periods, 21 x 2) in the cells' band-major order, ``handed_day`` each period's mean day.
    A card handed over ``t`` years before the reference day has moved ``t / 5`` bands up: with ages spread
    evenly within a band, the fraction ``frac(t / 5)`` of the cohort has crossed one band boundary more
    than ``floor(t / 5)``. Everyone stops at 100+. Cards handed over after the reference day keep their
    band (their age was taken at hand-over).

    MIC's table counts every card issued, dead holders' included (see ``observed.py``), but a dead holder
    grows no older: with ``mortality`` ((21, 2) per person-year) the holders who died before the reference
    day stay in the count at the band they died in (taken half-way along their cohort's shift), the
    living ones move the whole way. Survival is taken at the rate of the band half-way along. Returns (21, 2).
    """
    out = np.zeros((N_BANDS, 2))
    shift = np.maximum(0.0, reference_day - handed_day) / (365.25 * BAND_YEARS)
    bands = np.arange(N_BANDS)
    for c, u in zip(handed.reshape(-1, N_BANDS, 2), shift, strict=True):
        if u <= 0:
            out += c
            continue
        if mortality is None:
            out += _shift(c, u)
            continue
        mid = np.minimum(bands + u / 2, N_BANDS - 1)
        lo, f = mid.astype(int), (mid - mid.astype(int))[:, None]
        rate = (1 - f) * mortality[lo] + f * mortality[np.minimum(lo + 1, N_BANDS - 1)]
        alive = c * np.exp(-rate * u * BAND_YEARS)
        out += _shift(alive, u) + _shift(c - alive, u / 2)
    return out


class Rollout:
    """The whole chain for one option and one replication."""

    def __init__(
        self,
        params: Params,
        cells: Cells,
        day0: dt.date,
        n_days: int,
        *,
        scale: float = 1.0,
        rng: np.random.Generator | None = None,
        record_days: list[int] | None = None,
        closed_days: list[dt.date] | None = None,
        age_reference: dict[int, int] | None = None,
        mortality: np.ndarray | None = None,
    ):
        self.p, self.cells, self.day0, self.n, self.scale, self.rng = params, cells, day0, n_days, scale, rng
        self.record_days = sorted(set(record_days or [])) or [n_days - 1]
        M, X = cells.n_munis, N_BANDS * 2
        pop = cells.population * scale
        # residents without an application, as a (municipality, age band x sex) grid: the cells' own order
        self.unapplied = (np.round(pop).astype(np.int64) if rng is not None else pop.copy()).reshape(M, X)
        self.cell_pop = self.unapplied.astype(np.float64).reshape(-1).copy()
        m_pop = np.bincount(cells.muni, weights=pop, minlength=cells.n_munis)
        self.muni_pop = np.maximum(m_pop, 1e-9)  # expected residents: counter capacity and holding shares
        pref = cells.prefecture[cells.muni]
        self.static = static_log_hazard(params.hazard, cells.band, cells.sex, cells.literacy,
                                        cells.muni_type[cells.muni], pref)  # fmt: skip
        self.static_rate = np.exp(self.static).reshape(M, X)
        self.response = lever_response(params.hazard, cells.band, pref).reshape(M, X)
        self.literacy_mix = cells.literacy.reshape(M, X)[0]
        self.levers = build_levers(params, day0, n_days)
        self.common = self.levers.common
        self.business, self.weekend = business_days(day0, n_days, closed_days)
        self.mix_index = cells.band * 2 + cells.sex
        self.production = ProductionLine(M, X, n_days)
        self.capacity = production_capacity(params, day0, n_days) * scale
        if params.production.weekdays_only:
            self.capacity = np.where(self.business, self.capacity, 0.0)
        self.daily_capacity = self.capacity
        self.ship = DelayLine((M + X,), params.production.shipping_days)
        self.pool = AppointmentPool((M,), params.handover.notice_days)
        self.pool_mix = np.zeros(X)
        self.uncollected = np.zeros(M)
        ho = params.handover
        self.counters = Counters(M, n_days, np.array([ho.minutes_per_handover, ho.minutes_per_pin_reset,
                                                      ho.minutes_per_renewal]))  # fmt: skip
        self.counter_mix = np.zeros(X)
        self.counter_minutes = counter_minutes(params, cells, self.muni_pop, day0, n_days, self.business, self.weekend)
        # the staff response (handover.staff_response): each town hall's staff in multiples of its usual staff,
        # and the usual staff's counter minutes on a business day, the unit in which it measures its queue
        sr = ho.staff_response
        self.staff_factor = np.ones(M)
        self.respond_from = (sr.from_date - day0).days if sr.enabled else n_days
        self.usual_day_minutes = np.maximum(usual_staff(params, cells, self.muni_pop) * ho.opening_hours * 60.0
                                            * (1.0 + ho.evening_extra), 1e-12)  # fmt: skip
        self.usual_total = float(self.usual_day_minutes.sum())  # weights of the recorded staff-weighted factor
        from twin.population.municipalities import MUNICIPALITY_TYPES

        self.big = np.isin(cells.muni_type, [MUNICIPALITY_TYPES.index(t) for t in BIG_CITIES])
        payout = self.levers.by_lever.get("payout", np.zeros(n_days))
        self.pin_surge = 1.0 + ho.payout_pin_surge * (payout / payout.max() if payout.max() > 0 else payout)
        self.holders_muni = np.zeros(M)
        # cards handed over per calendar month by the holder's age band at hand-over: holders grow older,
        # and the recorder ages each month's cards to the age reference of the record day (ageing())
        first = dt.date(day0.year, day0.month, 1)
        dates = [day0 + dt.timedelta(days=d) for d in range(n_days)]
        self.month_of = np.array([(d.year - first.year) * 12 + d.month - first.month for d in dates])
        self.handed_month = np.zeros((int(self.month_of[-1]) + 1 if n_days else 1, X))
        self.month_mid = np.array([np.mean(np.flatnonzero(self.month_of == m)) if (self.month_of == m).any()
                                   else 0.0 for m in range(len(self.handed_month))])  # fmt: skip
        self.age_reference = dict(age_reference or {})
        # deaths per person-year by age band and sex (observed.mortality_by_band); None: holders never die
        self.mortality = None if mortality is None else np.asarray(mortality, dtype=np.float64).reshape(X)
        self.alive_mix = np.zeros(X)  # living holders by their age band today (aged day by day)
        self.issued_muni = np.zeros(M)
        self.applied_mix = np.zeros(X)
        self.applied_total = 0.0
        self.issued_daily = np.zeros((n_days, M))
        self.daily = {k: np.zeros(n_days) for k in SERIES}
        self.holders_by_type = np.zeros((n_days, 4))
        self.type_onehot = np.eye(4)[cells.muni_type]
        self.rec_muni = np.zeros((len(self.record_days), M))
        self.rec_issued = np.zeros((len(self.record_days), M))
        self.rec_mix = np.zeros((len(self.record_days), N_BANDS, 2))
        self.rec_applied = np.zeros((len(self.record_days), N_BANDS, 2))
        # the licence-centre and residence-card channels (twin.models.rollout.channels); None when both are off,
        # and inert before their start dates, so every number before then is the run without them
        self.channels = None
        if params.channels.any:
            from twin.models.rollout.channels import ChannelState

            national = cells.population.reshape(M, X).sum(axis=0).reshape(N_BANDS, 2)
            self.channels = ChannelState(params.channels, day0, n_days, national, scale)
        self._unapplied_renewals = 0.0
        self._seed_initial()

    # ---- stages (one call per day each) -------------------------------------------------------
    def _seed_initial(self) -> None:
        """Applications received before day 0 (late 2015) wait for production from day 0."""
        n0 = self.p.initial_applications * self.scale
        if n0 <= 0:
            return
        w = (self.unapplied * self.static_rate).reshape(-1)
        share = w / w.sum()
        flat = self.unapplied.reshape(-1)
        if self.rng is not None:
            apps = np.minimum(self.rng.multinomial(int(round(n0)), share), flat)
        else:
            apps = np.minimum(n0 * share, flat)
        self._apply(0, apps)

    def _apply(self, day: int, apps: np.ndarray) -> None:
        """Applications of ``day`` per cell (flat or as the (municipality, age-sex) grid)."""
        apps = apps.reshape(self.unapplied.shape)
        self.unapplied -= apps.astype(self.unapplied.dtype, copy=False)
        apps = apps.astype(np.float64)
        per_muni = apps.sum(axis=1)
        per_mix = apps.sum(axis=0)
        self.production.arrive(day, per_muni, per_mix)
        self.applied_mix += per_mix
        self.applied_total += float(per_muni.sum())
        self.daily["applications"][day] += float(per_muni.sum())

    def residents(self, day: int) -> None:
        holder_share = (self.holders_muni / self.muni_pop)[:, None]
        prob = daily_probability_rate(self.static_rate, self.literacy_mix, holder_share, self.common[day],
                                      self.levers.support[day], self.p.hazard.word_of_mouth, self.response)  # fmt: skip
        if self.rng is not None:
            apps = self.rng.binomial(self.unapplied, prob)
        else:
            apps = self.unapplied * prob
        self._apply(day, apps)
        if self.channels is not None:
            self._channel_applications(day)

    def _channel_applications(self, day: int) -> None:
        """Residents who have not applied, at a licence renewal or a residence procedure today, who apply there
        (drawn after the day's other applications, only from each channel's start)."""
        ch = self.channels
        assert ch is not None
        self._unapplied_renewals = ch.renewals_of_unapplied(day, self.unapplied.sum(axis=0).astype(np.float64))
        probs = ch.application_probability(day, self.alive_mix)
        if probs is None:
            return
        got = []
        for p in probs:
            if not p.any():
                got.append(0.0)
                continue
            apps = self.rng.binomial(self.unapplied, p[None, :]) if self.rng is not None else self.unapplied * p
            self._apply(day, apps)
            got.append(float(apps.sum()))
        ch.record_applications(day, *got)

    def produce(self, day: int) -> np.ndarray:
        ready = day - self.p.production.checking_days
        out, mix, waited = self.production.produce(day, self.capacity[day], ready)
        made = float(out.sum())
        self.daily["produced"][day] = made
        self.daily["wait_production_days"][day] = waited / made if made > 0 else np.nan
        return np.concatenate([out, mix])

    def deliver(self, day: int, produced: np.ndarray) -> None:
        arrived = self.ship.step(day, produced)
        M = self.cells.n_munis
        self.daily["delivered_to_town_hall"][day] = float(arrived[:M].sum())
        lost = arrived[:M] * self.p.handover.uncollected_share
        self.uncollected += lost
        booked = self.pool.step(arrived[:M] - lost)
        arrived = arrived.copy()
        arrived[M:] *= 1.0 - self.p.handover.uncollected_share
        stock_mix = self.pool_mix + arrived[M:]
        stock_total = stock_mix.sum()
        booked_total = float(booked.sum())
        moved = stock_mix * (booked_total / stock_total) if stock_total > 0 else np.zeros_like(stock_mix)
        self.pool_mix = stock_mix - moved
        self.counter_mix += moved
        self.daily["appointments"][day] = booked_total
        ho = self.p.handover
        pin = self.holders_muni * ho.pin_resets_per_holder_year / 365.0 * self.pin_surge[day]
        back = day - 365 * ho.renewal_years
        renew = self.issued_daily[back] * ho.renewal_at_counter if back >= 0 else np.zeros(M)
        self.counters.arrive(day, np.stack([booked, pin, renew], axis=1))

    def respond(self, day: int) -> np.ndarray:
        """Today's staff per town hall, in multiples of the usual staff (1 without the staff response): the
        staff move by ``1 / lag_days`` of the way toward what clears the queue in ``target_wait_days``. Called
        by :meth:`counter` from ``respond_from`` on (never when the response is off)."""
        sr = self.p.handover.staff_response
        queue_days = self.counters.backlog_minutes() / self.usual_day_minutes
        wanted = np.clip(queue_days / sr.target_wait_days, 1.0, sr.max_factor)
        self.staff_factor += (wanted - self.staff_factor) / sr.lag_days
        return self.staff_factor

    def counter(self, day: int) -> None:
        minutes = self.counter_minutes[day]
        if day >= self.respond_from:  # the usual staff's minutes times each town hall's staff factor
            minutes = minutes * self.respond(day)
        served, _, waited = self.counters.serve_window(day, minutes)
        self.daily["counter_staff_factor"][day] = float(self.staff_factor @ self.usual_day_minutes) / self.usual_total
        handed = served[:, 0]
        total = float(handed.sum())
        queued_mix = self.counter_mix.sum()
        mix = self.counter_mix * (total / queued_mix) if queued_mix > 0 else np.zeros_like(self.counter_mix)
        self.counter_mix -= mix
        self.holders_muni += handed
        self.issued_muni += handed
        self.alive_mix += mix
        self.handed_month[self.month_of[day]] += mix
        self.issued_daily[day] = handed
        d = self.daily
        d["issued"][day] = total
        d["pin_resets_served"][day] = float(served[:, 1].sum())
        d["renewals_served"][day] = float(served[:, 2].sum())
        jobs = float(waited.sum())
        days = self.counters.days_waited(day, waited)
        d["wait_counter_days"][day] = float(days.sum()) / jobs if jobs > 0 else np.nan
        jobs_big = float(waited[self.big].sum())
        d["wait_counter_days_big_cities"][day] = float(days[self.big].sum()) / jobs_big if jobs_big > 0 else np.nan
        self.deaths(day)
        if self.channels is not None:
            rate = None if self.mortality is None else -np.expm1(-self.mortality / 365.25)
            self.channels.step_stocks(day, self.alive_mix, rate, self._unapplied_renewals)

    def deaths(self, day: int) -> None:
        """Living holders die at their age band's rate and grow a day older; a dead holder's card stays in
        the count of cards handed over (``issued_muni``, what MIC's releases count) but leaves the cards
        held (``holders_muni``: word of mouth, PIN resets). Expected values also when replicating (a
        small, smooth outflow). Each municipality loses the national share of its holders: the model
        keeps holders' ages nationally, not per town."""
        if self.mortality is None:
            return
        alive = float(self.alive_mix.sum())
        if alive <= 0:
            return
        dead = self.alive_mix * -np.expm1(-self.mortality / 365.25)
        self.alive_mix -= dead
        grid = self.alive_mix.reshape(N_BANDS, 2)
        older = grid[:-1] / (365.25 * BAND_YEARS)  # ages spread evenly within a band: a fifth move up a year
        grid[:-1] -= older
        grid[1:] += older
        died = float(dead.sum())
        self.holders_muni *= 1.0 - died / alive
        self.daily["holder_deaths"][day] = died

    def record(self, day: int) -> None:
        d = self.daily
        d["holders"][day] = self.holders_muni.sum()
        d["issued_cumulative"][day] = self.issued_muni.sum()
        d["backlog_applied_not_issued"][day] = self.applied_total - d["issued_cumulative"][day]
        d["uncollected"][day] = float(self.uncollected.sum())
        d["production_capacity"][day] = self.capacity[day]
        d["backlog_checking_and_production"][day] = self.production.backlog()
        d["backlog_in_transit"][day] = float(self.ship.in_transit()[: self.cells.n_munis].sum())
        d["backlog_awaiting_appointment"][day] = float(self.pool.stock.sum())
        for k, name in enumerate(COUNTER_CLASSES):
            d[f"backlog_counter_{name}"][day] = float(self.counters.backlog()[:, k].sum())
        self.holders_by_type[day] = self.holders_muni @ self.type_onehot
        if day in self._record_index:
            i = self._record_index[day]
            self.rec_muni[i] = self.holders_muni
            self.rec_issued[i] = self.issued_muni
            mort = None if self.mortality is None else self.mortality.reshape(N_BANDS, 2)
            self.rec_mix[i] = aged_mix(self.handed_month, self.month_mid, self.age_reference.get(day, day), mort)
            self.rec_applied[i] = self.applied_mix.reshape(N_BANDS, 2)

    # ---- the SimPy process structure ------------------------------------------------------------
    def run(self) -> RolloutResult:
        env = simpy.Environment()
        self._record_index = {d: i for i, d in enumerate(self.record_days)}
        produced_today: dict[int, np.ndarray] = {}

        def daily(step):  # noqa: ANN001, ANN202 (a SimPy process generator)
            while env.now < self.n:
                step(int(env.now))
                yield env.timeout(1)

        env.process(daily(self.residents))
        env.process(daily(lambda d: produced_today.__setitem__(0, self.produce(d))))
        env.process(daily(lambda d: self.deliver(d, produced_today[0])))
        env.process(daily(self.counter))
        env.process(daily(self.record))
        env.run(until=self.n)
        return self.result()

    def waiting(self) -> float:
        """Applications somewhere in the chain (not yet in hand)."""
        return (
            self.production.backlog()
            + float(self.ship.in_transit()[: self.cells.n_munis].sum())
            + float(self.pool.stock.sum())
            + float(self.counters.backlog()[:, 0].sum())
            + float(self.uncollected.sum())
        )

    def result(self) -> RolloutResult:
        return RolloutResult(
            day0=self.day0,
            n_days=self.n,
            scale=self.scale,
            daily=self.daily,
            holders_by_type=self.holders_by_type,
            record_days=self.record_days,
            holders_muni=self.rec_muni,
            issued_muni=self.rec_issued,
            issued_mix=self.rec_mix,
            applied_mix=self.rec_applied,
            levers=self.levers,
            muni_population=self.muni_pop / self.scale,
            channels=self.channels.daily if self.channels is not None else {},
            totals={
                "applied": self.applied_total,
                "in_hand": float(self.issued_muni.sum()),
                "held": float(self.holders_muni.sum()),
                "waiting": self.waiting(),
                "population": float(self.cell_pop.sum()),
            },
        )
