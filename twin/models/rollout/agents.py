"""Agent fidelity: a sample of residents in households, decided for by Mesa agents with the same hazard.

The aggregate model counts residents in cells and lets word of mouth act through the municipality's
holding share. Here a sample of residents, each a row of the model's arrays, live in households (世帯)
of one to five. Each day the model steps its town agents (:class:`Town`, one Mesa agent per municipality,
holding its sampled residents as columns, as the payout's cohorts do) with ``shuffle_do("decide")`` in
an order drawn from the Model's random stream (derived from the run's seed): every resident of the town
without an application calls the same :func:`~twin.models.rollout.hazard.daily_probability` as the
aggregate tier, with the same word-of-mouth term by default (below), and those who apply get their day of
application. Applications then run through the same capacity chain as the aggregate model: each agent
stands for 1 / sample residents (its application is weighted up, so the town halls' capacities stay
national and small municipalities keep realistic queues), and results are national counts. Cards are
handed over first-come first-served within a municipality: the towns whose hall has handed over more
cards are selected (``select``) and hand over (``do``), so an agent holds its card once its municipality
has handed over (in agent units) as many cards as there were sampled applications before and including
its own.

Word of mouth. The hazard's last factor, ``1 + word_of_mouth x share``, reads ``share`` as the share of
the people one hears from who hold a card. The aggregate tier cannot see households and uses the town's
holding share, and the values in ``scenarios/rollout_fitted.json`` are fitted with that term, so the
default (``agent_word_of_mouth: municipality``) gives each agent its town's share (the chain's holders
over the town's residents, as the aggregate tier computes it): the agent tier is then the fitted model
followed resident by resident, and ``twin.models.rollout.agreement`` states how closely it must agree
with the aggregate tier. ``agent_word_of_mouth: household`` lets each agent hear from the other members
of *its own household* instead. That is a different model, not a finer copy of the fitted one, and its
``word_of_mouth`` is not fitted: a resident living alone hears nothing (12 % of residents), and holders
cluster in households (a holder's housemates applied sooner because of it), so a multi-person household
without an application has fewer holders than its town. On the fitted history at 1:1000 (one seed), in
December 2021 the non-applicants' hazard-weighted share was 0.27 at home (0.31 in households of two or
more) against 0.37 in their towns, and the cards issued by 2021-12-01 came out 4.0 % below the aggregate
tier's (0.4 % below with word of mouth off, on the same seed: sampling noise). It is there to measure what
households would change.

There is no Python object per resident: one that decided on its own would cost hours at 1:100 (1.26M
residents x 2,192 days of calls), and one that only mirrored the arrays (a ``Resident`` Mesa agent until
2026-12-05) decided nothing and cost memory and time.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from twin.models.rollout.hazard import N_BANDS, Cells, daily_probability, lever_response, static_log_hazard
from twin.models.rollout.params import Params
from twin.models.rollout.simulate import BAND_YEARS, Rollout, RolloutResult

#: household-size shape (1..5+ persons), census 2010 (twin/data/FIGURES.md)
HOUSEHOLD_SIZE_SHAPE = np.array([1678.0, 1413.0, 942.0, 746.0, 674.0])


class Town(mesa.Agent):
    """One municipality's sampled residents, deciding together (columns of the model's arrays)."""

    def __init__(self, model: RolloutAgents, muni: int, members: np.ndarray):
        super().__init__(model)
        self.muni = muni
        self.members = members  # indices into the model's per-resident arrays, in sample order

    def decide(self, day: int, common: float, support: float, wom: float, share: np.ndarray) -> None:
        """Each resident without an application applies today with the shared hazard's probability (``share``:
        per resident, the holding share it hears word of mouth from)."""
        m = self.model
        idx = self.members[m.undecided[self.members]]
        if idx.size == 0:
            return
        p = daily_probability(m.static[idx], m.literacy[idx], share[idx], common, support, wom,
                              m.response[idx])  # fmt: skip
        chosen = idx[m.np_rng.random(len(idx)) < p]
        if chosen.size:
            m.take(day, chosen)
            m.today.append(chosen)

    def hand_over(self, target: np.ndarray) -> None:
        """First come, first served: the first round(holders) applicants of the town hold."""
        m = self.model
        q = m.queue[self.muni]
        upto = min(int(target[self.muni]), len(q))
        for k in q[m.handed[self.muni] : upto]:
            if not m.died[k]:  # applied, then died before the card was handed over: not modelled apart
                m.holds[k] = True
        m.handed[self.muni] = upto


class RolloutAgents(mesa.Model):
    """The Mesa model: the sampled residents as arrays (cell, municipality, household, application, card) and
    one :class:`Town` agent per municipality that decides for its residents."""

    def __init__(self, params: Params, cells: Cells, sample: float, rng: np.random.Generator):
        super().__init__(seed=int(rng.integers(2**31)))
        self.np_rng = rng
        counts = rng.binomial(np.round(cells.population).astype(np.int64), sample)
        cell_of = np.repeat(np.arange(len(counts)), counts)
        # households: shuffle each municipality's residents and cut them into census-shaped sizes
        muni = cells.muni[cell_of]
        order = np.lexsort((rng.random(len(cell_of)), muni))
        cell_of, muni = cell_of[order], muni[order]
        household = np.empty(len(cell_of), dtype=np.int64)
        hh, i = 0, 0
        sizes = rng.choice(5, size=len(cell_of) + 1, p=HOUSEHOLD_SIZE_SHAPE / HOUSEHOLD_SIZE_SHAPE.sum()) + 1
        while i < len(cell_of):
            j = min(i + int(sizes[hh]), len(cell_of))
            j = i + int(np.searchsorted(muni[i:j], muni[i], side="right"))  # a household stays in one municipality
            household[i:j] = hh
            hh, i = hh + 1, j
        self.cell = cell_of
        self.muni = muni
        self.household = household
        self.n_households = hh
        self.static = static_log_hazard(params.hazard, cells.band[cell_of], cells.sex[cell_of], cells.literacy[cell_of],
                                        cells.muni_type[muni], cells.prefecture[muni])  # fmt: skip
        self.response = lever_response(params.hazard, cells.band[cell_of], cells.prefecture[muni])
        self.literacy = cells.literacy[cell_of]
        order_m = np.argsort(muni, kind="stable")
        bounds = np.searchsorted(muni[order_m], np.arange(cells.n_munis + 1))
        for m in range(cells.n_munis):
            if bounds[m + 1] > bounds[m]:
                Town(self, m, np.sort(order_m[bounds[m] : bounds[m + 1]]))
        self.towns = self.agents_by_type[Town]
        self.today: list[np.ndarray] = []
        self.undecided = np.ones(len(cell_of), dtype=bool)
        self.applied_day = np.full(len(cell_of), -1, dtype=np.int32)  # -1: has not applied
        self.holds = np.zeros(len(cell_of), dtype=bool)
        self.queue: list[list[int]] = [[] for _ in range(cells.n_munis)]
        self.handed = np.zeros(cells.n_munis, dtype=np.int64)
        self.band = cells.band[cell_of]
        self.sex = cells.sex[cell_of]
        self.years_into_band = self.np_rng.random(len(cell_of)) * BAND_YEARS  # ages spread evenly within a band
        self.died = np.zeros(len(cell_of), dtype=bool)

    def household_holder_share(self) -> np.ndarray:
        """Per agent: the share of the *other* members of its household who hold a card."""
        size = np.bincount(self.household, minlength=self.n_households)
        held = np.bincount(self.household, weights=self.holds, minlength=self.n_households)
        others = size[self.household] - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(others > 0, (held[self.household] - self.holds) / np.maximum(others, 1), 0.0)

    def decide(self, day: int, common: float, support: float, wom: float, share: np.ndarray) -> np.ndarray:
        """The towns decide in a shuffled order (``shuffle_do``); returns the residents that applied today
        (``share``: per resident, the holding share of those it hears word of mouth from)."""
        self.today = []
        self.towns.shuffle_do("decide", day, common, support, wom, share)
        return np.concatenate(self.today) if self.today else np.zeros(0, dtype=np.int64)

    def take(self, day: int, chosen: np.ndarray) -> None:
        self.undecided[chosen] = False
        self.applied_day[chosen] = day
        for k in chosen.tolist():
            self.queue[self.muni[k]].append(k)

    def deaths(self, day: int, mortality: np.ndarray) -> np.ndarray:
        """Each living holder dies today with its age band's daily probability (``mortality``: (21, 2) per
        person-year, the band the agent has grown into since day 0); its card no longer counts in its
        household's holding share. Returns the dead agents' indices."""
        idx = np.flatnonzero(self.holds & ~self.died)
        band = np.minimum(self.band[idx] + ((self.years_into_band[idx] + day / 365.25) // BAND_YEARS).astype(int),
                          N_BANDS - 1)  # fmt: skip
        p = -np.expm1(-mortality[band, self.sex[idx]] / 365.25)
        dead = idx[self.np_rng.random(len(idx)) < p]
        self.died[dead] = True
        self.holds[dead] = False
        return dead

    def hand_over(self, holders_muni: np.ndarray) -> None:
        """The towns whose hall has handed over more cards than their agents hold hand them over."""
        target = np.floor(holders_muni + 0.5).astype(np.int64)
        self.towns.select(lambda t: target[t.muni] > self.handed[t.muni]).do("hand_over", target)


class AgentRollout(Rollout):
    """The capacity chain fed by Mesa agents instead of cells (scale = the sample share)."""

    def __init__(self, params: Params, cells: Cells, day0: dt.date, n_days: int, *, rng: np.random.Generator,
                 record_days: list[int] | None = None, closed_days: list[dt.date] | None = None,
                 age_reference: dict[int, int] | None = None, mortality: np.ndarray | None = None):  # fmt: skip
        self.model = RolloutAgents(params, cells, params.agent_sample, rng)
        self.weight = 1.0 / params.agent_sample
        super().__init__(params, cells, day0, n_days, scale=1.0, rng=rng, record_days=record_days,
                         closed_days=closed_days, age_reference=age_reference, mortality=mortality)  # fmt: skip
        agent_cells = np.bincount(self.model.cell, minlength=len(cells.population)).astype(np.float64)
        self.cell_pop = agent_cells * self.weight
        applied = np.bincount(self.model.cell[~self.model.undecided], minlength=len(cells.population))
        self.unapplied = ((agent_cells - applied) * self.weight).reshape(self.unapplied.shape)

    def _seed_initial(self) -> None:
        n0 = int(round(self.p.initial_applications * self.p.agent_sample))
        if n0 <= 0 or not hasattr(self, "model"):
            return
        w = np.exp(self.model.static)
        chosen = self.rng.choice(len(w), size=min(n0, len(w)), replace=False, p=w / w.sum())
        self.model.take(0, chosen)
        apps = np.bincount(self.model.cell[chosen], minlength=len(self.cells.population)) * self.weight
        self._apply(0, np.minimum(apps, self.unapplied.reshape(-1)).astype(np.float64))

    def deaths(self, day: int) -> None:
        """The agents die (RolloutAgents.deaths); the towns' held cards lose them, weighted up."""
        if self.mortality is None:
            return
        dead = self.model.deaths(day, self.mortality.reshape(N_BANDS, 2))
        lost = np.bincount(self.model.muni[dead], minlength=self.cells.n_munis) * self.weight
        self.holders_muni = np.maximum(self.holders_muni - lost, 0.0)
        self.daily["holder_deaths"][day] = float(lost.sum())

    def word_of_mouth_share(self) -> np.ndarray:
        """Per agent, the holding share its word of mouth comes from (``params.agent_word_of_mouth``): its
        municipality's, the aggregate tier's term (holders weighted up over expected residents), or its household's."""
        if self.p.agent_word_of_mouth == "household":
            return self.model.household_holder_share()
        return (self.holders_muni / self.muni_pop)[self.model.muni]

    def residents(self, day: int) -> None:
        self.model.hand_over(self.issued_muni / self.weight)
        chosen = self.model.decide(day, self.common[day], self.levers.support[day], self.p.hazard.word_of_mouth,
                                   self.word_of_mouth_share())  # fmt: skip
        self._apply(day, np.bincount(self.model.cell[chosen], minlength=len(self.cells.population)) * self.weight)


def run_agents(params: Params, cells: Cells, day0: dt.date, n_days: int, *, rng: np.random.Generator,
               record_days: list[int] | None = None,
               closed_days: list[dt.date] | None = None,
               age_reference: dict[int, int] | None = None,
               mortality: np.ndarray | None = None) -> RolloutResult:  # fmt: skip
    """One agent-fidelity replication; counts in the result are national (agents weighted 1 / sample)."""
    return AgentRollout(params, cells, day0, n_days, rng=rng, record_days=record_days, closed_days=closed_days,
                        age_reference=age_reference, mortality=mortality).run()


__all__ = ["N_BANDS", "AgentRollout", "RolloutAgents", "Town", "run_agents"]
