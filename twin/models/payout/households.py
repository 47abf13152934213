"""The households of the agent tier as Mesa 3 agents that decide how and when they claim the payout.

Each household decides, by the same rules the aggregate tier applies to columns
(:func:`~twin.models.payout.behaviour.decide`: wait for the paper form and reply after a long-tailed
delay; as a card holder at home online, apply online once the town hall opens online intake unless the
form comes first; apply twice or post the form too; never apply; under push, be paid without applying
unless it opts out), reading its own attributes (head's age, card, literacy, household size) and its
own draws from the named streams both tiers share (:class:`~twin.models.payout.behaviour.Draws`).

One Mesa agent per household is the reference (:class:`Household`); the run uses one agent per
municipality (:class:`Cohort`, the municipality's sampled households as columns), because a Python
object per household would cost more than the services it drives at 1:100. The model steps its agents
with ``shuffle_do("decide")`` in an order drawn from the Model's random stream (derived from the run's
seed); since each household reads only its own draws, the order does not change the plan, and a test
checks that cohorts, single households and the aggregate's columns give the same plan byte for byte.
Then the portal (a national step: its capacity is shared) turns away what it cannot take that day, and
:meth:`HouseholdModel.plan` is what the agent tier's SimPy processes turn into real service calls
(:func:`twin.models.payout.agent.simulate_agent`): applications submitted online or by mail on the days
the households chose, signed by the card of a head who holds one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import mesa
import numpy as np

from twin.models.payout.behaviour import (
    ROUTES,
    Decisions,
    Draws,
    Households,
    Municipalities,
    Plan,
    Setting,
    admit_portal,
    decide,
    setting,
)
from twin.models.payout.municipalities import TownHalls, town_halls
from twin.models.payout.params import MUNICIPALITY_TYPES, Params


class _Deciding(mesa.Agent):
    """Households (one, or a municipality's cohort) that decide by :func:`decide` on their own rows."""

    model: HouseholdModel

    def __init__(self, model: HouseholdModel, rows: np.ndarray, kind: str) -> None:
        super().__init__(model)
        self.rows = rows
        self.kind = kind  # municipality type
        self.households = len(rows)
        self.online = 0  # households that chose to apply online
        self.card_holders = int(model.hh.head_card[rows].sum())

    def decide(self) -> None:
        m = self.model
        dec = decide(m.hh.take(self.rows), m.draws.take(self.rows), m.setting)
        self.online = int(len(dec.online_rows))
        m.record(self.rows, dec)


class Household(_Deciding):
    """One household (its head decides); the reference for :class:`Cohort`."""


class Cohort(_Deciding):
    """The sampled households of one municipality, deciding together as columns."""

    def __init__(self, model: HouseholdModel, rows: np.ndarray, kind: str, municipality: int) -> None:
        super().__init__(model, rows, kind)
        self.municipality = municipality


class HouseholdModel(mesa.Model):
    """All households of a run as Mesa agents (``per_household``: one agent each, else one per
    municipality); the random stream is the run's (``stream("household_agents")``)."""

    def __init__(
        self,
        hh: Households,
        mun: Municipalities,
        params: Params,
        day0: dt.date,
        stream: Callable[[str], np.random.Generator],
        scale: float,
        halls: TownHalls | None = None,
        *,
        per_household: bool = False,
        national: Setting | None = None,
        draws: Draws | None = None,
        portal: Callable[[Decisions], np.ndarray] | None = None,
    ) -> None:
        """``national``, ``draws`` and ``portal`` are for a part of the nation (a partition of the agent run,
        :mod:`twin.models.payout.planned`): the setting of the whole sample (with ``halls``, the part's), the
        part's own draws, and the arrival days after the national portal step."""
        super().__init__(rng=stream("household_agents"))
        self.hh, self.params, self.stream, self.scale = hh, params, stream, scale
        if halls is None:
            halls = town_halls(mun.code, mun.type_index, mun.households / scale, params, day0, stream)
        self.halls = halls
        self.setting = national if national is not None else setting(hh, params, day0, halls, scale)
        self.draws = draws if draws is not None else Draws.kept(hh, stream, params)
        self.portal = portal or (lambda dec: admit_portal(dec, self.setting, self.stream, self.scale))
        n = len(hh)
        self.route = np.full(n, -1, np.int8)
        self.arrival = np.full(n, np.nan, np.float32)
        self.extra_online = np.zeros(n, np.int8)
        self.dup_mail_day = np.full(n, np.nan, np.float32)
        self.online_day = np.full(n, np.nan, np.float32)
        self.goes_online = np.zeros(n, dtype=bool)
        kinds = [MUNICIPALITY_TYPES[int(t)] for t in mun.type_index]
        if per_household:
            for row in range(n):
                Household(self, np.array([row]), kinds[int(hh.municipality[row])])
        else:
            order = np.argsort(hh.municipality, kind="stable")
            bounds = np.searchsorted(hh.municipality[order], np.arange(len(mun) + 1))
            for m in range(len(mun)):
                if bounds[m + 1] > bounds[m]:
                    Cohort(self, order[bounds[m] : bounds[m + 1]], kinds[m], m)

    def record(self, rows: np.ndarray, dec: Decisions) -> None:
        self.route[rows] = dec.route
        self.arrival[rows] = dec.arrival
        self.extra_online[rows] = dec.extra_online
        self.dup_mail_day[rows] = dec.dup_mail_day
        self.goes_online[rows[dec.online_rows]] = True
        self.online_day[rows[dec.online_rows]] = dec.online_day

    def step(self) -> None:
        """Every household decides (in an order from the Model's stream), then the portal admits."""
        self.agents.shuffle_do("decide")
        if (self.route < 0).any():
            raise RuntimeError("HouseholdModel: a household did not decide")
        rows = np.flatnonzero(self.goes_online)
        dec = Decisions(self.route, self.arrival, self.extra_online, self.dup_mail_day, rows, self.online_day[rows])
        self.arrival = self.portal(dec)

    def plan(self) -> Plan:
        """The households' decisions, as the plan the agent tier's SimPy processes play out."""
        if (self.route < 0).any():
            self.step()
        h = self.halls
        return Plan(self.route, self.arrival, self.extra_online, self.dup_mail_day, h.online_open_day, h.suspended, h)

    def online_by_type(self) -> dict[str, int]:
        """Households that chose to apply online, by municipality type (AgentSet groupby)."""
        got = self.agents.groupby("kind").agg("online", sum)
        return {t: int(got.get(t, 0)) for t in MUNICIPALITY_TYPES}

    def routes(self) -> dict[str, int]:
        return {r: int((self.route == i).sum()) for i, r in enumerate(ROUTES)}

    def release(self) -> None:
        """Let the model go. Mesa keeps every model's agent-id counter in a class-level dict keyed by the model
        (``mesa.Agent._ids``), so a model made for each partition of the agent run would live as long as its
        worker (about 2 MB per 25,000 households, 260 MiB over a worker's 115 partitions at 1:10)."""
        self.remove_all_agents()
        getattr(mesa.Agent, "_ids", {}).pop(self, None)

    def card_holders_deciding(self) -> mesa.agent.AgentSet:
        """The agents with at least one card-holding head (AgentSet select)."""
        return self.agents.select(lambda a: a.card_holders > 0)
