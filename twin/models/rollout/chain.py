"""From application to card in hand: J-LIS production, shipment, the appointment, the counter.

A resident's application goes to J-LIS (地方公共団体情報システム機構), which checks it and
prints the card on a national production line of fixed daily capacity (115,000 cards a day by
design in 2016), oldest applications first. Cards are shipped to the town hall, which posts a
notice (交付通知書); the resident books an appointment and collects the card at a counter
(交付窓口) whose staff also reset forgotten PINs and renew expiring certificates. Each stage here
is a station that works day by day on arrays (all 1,741 town halls at once); the model runs each
station as a SimPy process. Every station keeps what arrived, what left and what waits, so the
chain conserves applications exactly: applied = in hand + waiting at every stage.
"""

from __future__ import annotations

import numpy as np

from twin.sim.fluid import CohortQueue

#: counter job classes
COUNTER_CLASSES = ("handover", "pin_reset", "renewal")


class ProductionLine:
    """J-LIS production: one national FIFO line; cohorts are application days, split by municipality.

    ``band_mix`` carries each cohort's national composition by age band and sex, so the cards
    produced can be told apart by band (exact for the national line).
    """

    def __init__(self, n_munis: int, n_mix: int, horizon: int):
        self.pending = np.zeros((horizon, n_munis))
        self.mix = np.zeros((horizon, n_mix))
        self.head = 0
        self.arrived = 0.0
        self.produced = 0.0

    def arrive(self, day: int, per_muni: np.ndarray, per_mix: np.ndarray) -> None:
        self.pending[day] += per_muni
        self.mix[day] += per_mix
        self.arrived += float(per_muni.sum())

    def produce(self, day: int, capacity: float, ready_until: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Make up to ``capacity`` cards from cohorts up to day ``ready_until``, oldest first.

        Returns (cards per municipality, cards per band mix, card-days waited)."""
        n_m, n_x = self.pending.shape[1], self.mix.shape[1]
        if ready_until < self.head or capacity <= 0:
            return np.zeros(n_m), np.zeros(n_x), 0.0
        win = slice(self.head, ready_until + 1)
        block = self.pending[win]
        totals = block.sum(axis=1)
        before = np.cumsum(totals) - totals
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(totals > 0, np.clip((capacity - before) / totals, 0.0, 1.0), 0.0)
        out = frac @ block
        mix_out = frac @ self.mix[win]
        waited = float((frac * totals) @ (day - np.arange(self.head, ready_until + 1)))
        self.pending[win] -= frac[:, None] * block
        self.mix[win] -= frac[:, None] * self.mix[win]
        full = np.flatnonzero((frac < 1.0) & (totals > 0))  # an empty cohort is done: the head moves past it
        self.head = self.head + (int(full[0]) if len(full) else ready_until + 1 - self.head)
        self.produced += float(out.sum())
        return out, mix_out, waited

    def backlog(self) -> float:
        return self.arrived - self.produced


class DelayLine:
    """Shipment: what leaves on day t arrives ``delay`` days later (a ring of in-transit arrays)."""

    def __init__(self, shape: tuple[int, ...], delay: int):
        self.delay = delay
        self.ring = np.zeros((delay + 1, *shape))

    def step(self, day: int, inflow: np.ndarray) -> np.ndarray:
        """Put ``inflow`` in transit; return what arrives today."""
        self.ring[(day + self.delay) % (self.delay + 1)] += inflow
        slot = day % (self.delay + 1)
        out = self.ring[slot].copy()
        self.ring[slot] = 0.0
        return out

    def in_transit(self) -> np.ndarray:
        return self.ring.sum(axis=0)


class AppointmentPool:
    """Cards at the town hall whose holders have not yet come: each day 1/notice_days of them book."""

    def __init__(self, shape: tuple[int, ...], notice_days: float):
        self.stock = np.zeros(shape)
        self.rate = -np.expm1(-1.0 / notice_days)

    def step(self, inflow: np.ndarray) -> np.ndarray:
        self.stock += inflow
        out = self.stock * self.rate
        self.stock -= out
        return out


class Counters(CohortQueue):
    """Every town hall's counter, oldest appointment first: a :class:`CohortQueue` of the three
    :data:`COUNTER_CLASSES`, served day by day with :meth:`~CohortQueue.serve_window`."""

    def __init__(self, n_stations: int, horizon: int, minutes_per_job: np.ndarray):
        super().__init__(n_stations, len(COUNTER_CLASSES), horizon, minutes_per_job)

    def backlog(self) -> np.ndarray:
        """Jobs waiting per station and class (from the running totals: no pass over the horizon)."""
        return self.arrived_total - self.served_total
