"""The public record of 2020 the baseline is fitted to, and the twin's value for each figure.

Every figure here is a row of ``twin/data/PAYOUT_2020.md`` (copied from the team's reference with its
sources). The national progress after 2020-06-19 is not in that file: it is the held-out check of
the twin, so nothing here can fit to it. :func:`twin_values` reads one run of the baseline and
returns the twin's value for each training figure, on the same definition:

- budget share: persons paid / persons entitled (100,000 yen per person), by the end of the date;
- households share: households paid / households entitled;
- municipalities paying: town halls whose first transfer has reached accounts by the date;
- big-city share: households paid / households of that city on 2020-06-24;
- final: households and budget paid by the end of the run (the record: by 2021-03-31).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

D = dt.date


@dataclass(frozen=True)
class Figure:
    family: str  # budget_share, households_share, municipalities_paying, big_city_share, final
    name: str  # e.g. "budget 2020-06-05", "Osaka 2020-06-24"
    date: dt.date
    value: float  # share in [0, 1] or a count of municipalities
    source: str


TRAINING: tuple[Figure, ...] = (
    Figure("budget_share", "budget 2020-06-05", D(2020, 6, 5), 0.302, "MIC via Wikipedia 特別定額給付金"),
    Figure("budget_share", "budget 2020-06-10", D(2020, 6, 10), 0.385, "MIC via Wikipedia 特別定額給付金"),
    Figure("budget_share", "budget 2020-06-12", D(2020, 6, 12), 0.468, "MIC via Wikipedia 特別定額給付金"),
    Figure("budget_share", "budget 2020-06-17", D(2020, 6, 17), 0.545, "MIC via Wikipedia 特別定額給付金"),
    Figure("budget_share", "budget 2020-06-19", D(2020, 6, 19), 0.607, "MIC via Wikipedia 特別定額給付金"),
    Figure("households_share", "households 2020-06-10", D(2020, 6, 10), 0.359, "hatena zoaxult 2020-06-12"),
    Figure("households_share", "households 2020-06-12", D(2020, 6, 12), 0.437, "Jiji medical 33068"),
    Figure("municipalities_paying", "paying 2020-05-15", D(2020, 5, 15), 651, "Asahi ASN5H5TX0N5HULFA00K"),
    Figure("municipalities_paying", "paying 2020-05-25", D(2020, 5, 25), 1388, "iza 2020-05-26 (incl. scheduled)"),
    Figure("municipalities_paying", "paying 2020-06-16", D(2020, 6, 16), 1741, "Jiji medical 33068 (the last)"),
    Figure("big_city_share", "Osaka 2020-06-24", D(2020, 6, 24), 0.03, "press of 2020-06-24 via Wikipedia"),
    Figure("big_city_share", "Chiba 2020-06-24", D(2020, 6, 24), 0.08, "press of 2020-06-24 via Wikipedia"),
    Figure("big_city_share", "Nagoya 2020-06-24", D(2020, 6, 24), 0.09, "press of 2020-06-24 via Wikipedia"),
    Figure("big_city_share", "Fukuoka 2020-06-24", D(2020, 6, 24), 0.53, "press of 2020-06-24 via Wikipedia"),
    Figure("big_city_share", "Kobe 2020-06-24", D(2020, 6, 24), 0.78, "press of 2020-06-24 via Wikipedia"),
    Figure("big_city_share", "Sapporo 2020-06-24", D(2020, 6, 24), 0.92, "press of 2020-06-24 via Wikipedia"),
    Figure("final", "households final", D(2021, 3, 31), 0.994, "Jiji medical 42349"),
    Figure("final", "budget final", D(2021, 3, 31), 0.997, "Jiji medical 42349"),
)
CITY_CODES = {"Osaka": 271004, "Chiba": 121002, "Nagoya": 231002, "Fukuoka": 401307, "Kobe": 281000,
              "Sapporo": 11002}  # fmt: skip
N_MUNICIPALITIES = 1741


def training(until: dt.date) -> list[Figure]:
    """The figures a fit may use: national figures up to ``until`` (at most 2020-06-19), and the
    start counts, big-city shares and final figures, which the issue names as training."""
    if until > D(2020, 6, 19):
        raise ValueError(f"until {until}: national figures after 2020-06-19 are the held-out check")
    return [f for f in TRAINING if f.family not in ("budget_share", "households_share") or f.date <= until]


def twin_values(r, codes: np.ndarray, day0: dt.date, figures: list[Figure]) -> np.ndarray:  # noqa: ANN001
    """The twin's value of each figure from one :class:`AggregateResult` (sample units are fine:
    every value is a share or a count of town halls)."""
    x = r.extra
    hh_cum = r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum()
    p_cum = r.paid_persons.sum(axis=0).cumsum() / r.entitled_persons.sum()
    first = x["first_payment_day"]
    out = []
    for f in figures:
        d = min((f.date - day0).days, r.horizon - 1)
        if f.family == "budget_share" or f.name == "budget final":
            out.append(p_cum[d if f.family != "final" else -1])
        elif f.family == "households_share" or f.name == "households final":
            out.append(hh_cum[d if f.family != "final" else -1])
        elif f.family == "municipalities_paying":
            # a town hall paying from day t counts from the end of day t; linear within the day
            out.append(float(np.clip(d + 1 - first, 0.0, 1.0).sum()) * N_MUNICIPALITIES / len(first))
        elif f.family == "big_city_share":
            m = int(np.flatnonzero(codes == CITY_CODES[f.name.split()[0]])[0])
            paid = x["paid_households_by_municipality"][m, : d + 1].sum()
            out.append(paid / max(x["entitled_by_municipality"][m], 1.0))
        else:
            raise ValueError(f"unknown figure {f.name}")
    return np.array(out, dtype=np.float64)


def residuals(values: np.ndarray, figures: list[Figure], weights: dict[str, float]) -> np.ndarray:
    """Weighted errors: shares in share units; town-hall counts as shares of the 1,741."""
    out = []
    for v, f in zip(values, figures, strict=True):
        w = weights.get(f.family, 0.0)
        scale = N_MUNICIPALITIES if f.family == "municipalities_paying" else 1.0
        out.append(w * (v - f.value) / scale)
    return np.array(out)
