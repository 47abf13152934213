"""Fit the 2020 baseline's online-application behaviour to the recorded online applications.

The record (twin/data/FIGURES.md): 513,491 online applications by 2020-05-07, 1.44M by 05-13 and
1.94M by 05-24. Three behaviour parameters shape that curve: the share of card-holding heads who
apply online (times their digital literacy), the mean delay after their municipality opens online
intake, and the gamma shape of delays. A grid search on the household plans at 1:100 (the plans
are cheap; the town halls do not affect when people apply) minimises the RMS relative error; the
best values are the defaults in twin/models/payout/params.py.

    .venv/bin/python scripts/calibrate_payout_online.py
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np

from twin.models.payout import households_from_nation
from twin.models.payout.behaviour import ONLINE, plan_households
from twin.models.payout.params import Params
from twin.population import build_nation
from twin.runs import stream_key
from twin.scenario import deep_merge

RECORD = [(dt.date(2020, 5, 7), 513_491), (dt.date(2020, 5, 13), 1_440_000), (dt.date(2020, 5, 24), 1_940_000)]
DAY0 = dt.date(2020, 4, 30)
SCALE = 0.01


def main() -> None:
    nation = build_nation(SCALE, np.random.default_rng(1), card_date=dt.date(2020, 4, 27))
    hh, mun = households_from_nation(nation)
    observed = np.array([v for _, v in RECORD], dtype=float)
    rows = []
    for share, delay, shape in itertools.product((0.3, 0.35, 0.4, 0.45), (6, 8, 10), (1, 2, 3, 4, 5)):
        over = {"behaviour": {"online_share_card_holders": share, "online_delay_days": delay, "delay_shape": shape}}
        p = Params.model_validate(deep_merge(Params().model_dump(), over))
        plan = plan_households(hh, mun, p, DAY0, lambda n: np.random.default_rng([1, stream_key(n)]), SCALE)
        online = plan.arrival_day[plan.route == ONLINE]
        sim = np.array([(online < (d - DAY0).days + 1).sum() / SCALE for d, _ in RECORD])
        err = float(np.sqrt(np.mean(((sim - observed) / observed) ** 2)))
        rows.append((err, share, delay, shape, sim))
    rows.sort(key=lambda r: r[0])
    print("rms_rel_error share delay shape  simulated (by 05-07, 05-13, 05-24)")
    for err, share, delay, shape, sim in rows[:5]:
        print(f"{err:14.3f} {share:5.2f} {delay:5.1f} {shape:5.1f}  {', '.join(f'{x:,.0f}' for x in sim)}")


if __name__ == "__main__":
    main()
