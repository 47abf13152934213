"""What each resident brings to the counter: a My Number card or not, a registered account, and
how at ease they are with online services.

* Card holding (マイナンバーカード保有): MIC publishes holding per municipality and per age band and
  sex, never both at once. The twin gives each resident the probability
  ``expit(alpha[municipality] + beta[band, sex])`` and rakes ``alpha`` and ``beta`` (Newton steps,
  alternately) so the expected holders match *both* published margins at the card date.
* Public-benefit receipt account (公金受取口座): only card holders can register one on Myna Portal;
  registration opened 2022-03-28, so before that nobody has one; afterwards a share of holders
  (from FIGURES.md, or a parameter) has one, independently of anything else (assumed).
* Digital literacy (0..1): mean = the internet-use share of the person's age and sex (MIC
  通信利用動向調査: every band 13-69 above 90 % in 2023; 65+ by sex from 2014), individual spread
  Beta with concentration ``kappa`` (assumed 4). Under-13s: 0.05 (0-5) and 0.6 (6-12), assumed.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import beta as beta_dist

from twin.population.statistics import INTERNET_USE_13_69_2023, INTERNET_USE_OLDER_2014, MAX_AGE, N_BANDS

N_AGES = MAX_AGE + 1
LITERACY_BITS = 8
LITERACY_LEVELS = 1 << LITERACY_BITS


def band_of_age() -> np.ndarray:
    """The demographics.csv band (0..20) of each single year 0..MAX_AGE."""
    return np.minimum(np.arange(N_AGES) // 5, N_BANDS - 1).astype(np.int16)


def literacy_mean() -> np.ndarray:
    """Mean literacy score by (age, sex) = internet-use share, shape (N_AGES, 2)."""
    m = np.full((N_AGES, 2), INTERNET_USE_13_69_2023)
    m[:6] = 0.05
    m[6:13] = 0.60
    for lo, hi, male, female in INTERNET_USE_OLDER_2014:
        m[lo : hi + 1] = (male, female)
    return m


def literacy_quantiles(kappa: float) -> np.ndarray:
    """Quantile tables (N_AGES * 2, LITERACY_LEVELS) float32: score = table[cell, floor(u * levels)]."""
    if not kappa > 0:
        raise ValueError(f"literacy concentration {kappa} is not > 0")
    mean = literacy_mean().reshape(-1, 1)
    q = (np.arange(LITERACY_LEVELS) + 0.5) / LITERACY_LEVELS
    return beta_dist.ppf(q[None, :], mean * kappa, (1 - mean) * kappa).astype(np.float32)


def fit_holding(
    muni_population: np.ndarray,
    muni_rate: np.ndarray,
    band_share: np.ndarray,
    band_rate: np.ndarray,
    iters: int = 60,
) -> np.ndarray:
    """Holding probability per (municipality, band*2+sex): logistic model raked to both margins.

    ``band_share`` is the national population share of each (band, sex), which every municipality
    shares (see :mod:`twin.population.households`). Returns shape (M, N_BANDS * 2), float32.
    """
    pop = np.asarray(muni_population, dtype=np.float64)
    f = np.asarray(band_share, dtype=np.float64).reshape(-1)
    f = f / f.sum()
    rm = np.clip(np.asarray(muni_rate, dtype=np.float64), 0.0, 1.0)
    rb = np.clip(np.asarray(band_rate, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if rm.max() == 0 and rb.max() == 0:
        return np.zeros((len(pop), len(f)), dtype=np.float32)
    # both margins must describe the same number of holders: scale the band rates to the municipal total
    holders = (pop * rm).sum()
    rb = np.clip(rb * holders / max((rb * f).sum() * pop.sum(), 1e-300), 0.0, 1.0)
    rm_ = np.clip(rm, 1e-7, 1 - 1e-7)
    a = np.log(rm_ / (1 - rm_))
    b = np.zeros(len(f))
    for _ in range(iters):
        for _ in range(3):  # municipalities: sum_b f_b p(a_m + b_b) = rate_m
            p = expit(a[:, None] + b[None, :])
            g = (p * f).sum(axis=1) - rm
            d = (p * (1 - p) * f).sum(axis=1)
            a -= np.clip(g / np.maximum(d, 1e-12), -5, 5)
        for _ in range(3):  # bands: sum_m pop_m f_b p / (pop f_b) = rate_b
            p = expit(a[:, None] + b[None, :])
            g = (p * pop[:, None]).sum(axis=0) / pop.sum() - rb
            d = (p * (1 - p) * pop[:, None]).sum(axis=0) / pop.sum()
            b -= np.clip(g / np.maximum(d, 1e-12), -5, 5)
    return expit(a[:, None] + b[None, :]).astype(np.float32)
