"""The town-hall counters one person at a time: the SimPy reference for :class:`TownCounters`.

For a few town halls: each walk-in is a SimPy process that arrives in the first opening hour of
its day and queues at the hall's walk-in counter (a :class:`twin.sim.Station` with the hall's
walk-in positions, the counter's opening hours on business days, first come first served; a case
in progress at closing is finished, the rest wait for the next business day). Each visitor who
books is a process that takes the earliest business day from its wish on whose appointment time
still has room for its case, and is served that day. The batch model does the same with expected
counts and cohorts; tests compare the two on the same arrivals.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import simpy

from twin.sim import Calendar, Deterministic, OpeningHours, Station


def play(
    day0: dt.date,
    n_days: int,
    walk_servers: list[int],
    res_minutes: list[float],
    minutes: np.ndarray,
    walk: np.ndarray,
    res: np.ndarray,
    hours: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """``walk``/``res``: whole-number arrivals [hall, day, class] (on business days). Returns per hall
    and day the visitors served, and per hall the visit-days they waited."""
    n_h = len(walk_servers)
    close = dt.time(8 + int((30 + hours * 60) // 60), int((30 + hours * 60) % 60))
    cal = Calendar(day0, day0 + dt.timedelta(days=n_days + 400), hours=OpeningHours(business=(("08:30", close),)))
    business = cal.business_day_mask()
    env = simpy.Environment()
    served = np.zeros((n_h, n_days + 400))
    waited = np.zeros(n_h)
    for h in range(n_h):
        st = Station(env, walk_servers[h], Deterministic(minutes[0] / 60), rng=rng, calendar=cal, name=f"hall{h}")
        book = np.zeros(n_days + 400)

        def walker(h: int, d: int, c: int, st: Station = st):  # noqa: ANN202
            yield env.timeout(d * 24 + 8.5 + rng.uniform(0, 1.0) - env.now)
            yield from st.visit(minutes[c] / 60.0)  # returns when the case is done
            got = int((env.now - minutes[c] / 60.0) // 24)  # the day the case started
            served[h, got] += 1
            waited[h] += got - d

        def booker(h: int, d: int, c: int, book: np.ndarray = book):  # noqa: ANN202
            yield env.timeout(d * 24 + 8.5 - env.now)
            slot = d
            while not business[slot] or book[slot] + minutes[c] > res_minutes[h] + 1e-9:
                slot += 1
            book[slot] += minutes[c]
            yield env.timeout(slot * 24 + 9.0 - env.now)
            served[h, slot] += 1
            waited[h] += slot - d

        for d in range(n_days):
            for c in range(walk.shape[2]):
                for _ in range(int(walk[h, d, c])):
                    env.process(walker(h, d, c))
                for _ in range(int(res[h, d, c])):
                    env.process(booker(h, d, c))
    env.run()
    return {"served": served, "waited": waited}
