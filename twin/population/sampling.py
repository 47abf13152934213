"""Two numerical tools of the synthetic census: raking tables to known margins, and fast drawing.

Statistics offices weight a survey to known totals by raking (iterative proportional fitting,
反復比例調整): scale rows to their totals, then columns, and repeat. The twin rakes its household
role profiles to the age pyramid and its joint head-member age tables to both members' profiles.
Drawing 126 million ages from hundreds of small distributions must cost O(1) per draw: Walker's
alias method turns each distribution into a table so one uniform number picks an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rake(seed: np.ndarray, row_totals: np.ndarray, col_totals: np.ndarray, iters: int = 2000) -> np.ndarray:
    """Iterative proportional fitting of a non-negative ``seed`` to row and column totals.

    The result keeps the seed's zeros and odds ratios; rows are matched exactly at the end (so
    conditionals taken from rows stay consistent), columns as closely as the zeros allow.
    """
    seed = np.asarray(seed, dtype=np.float64)
    row_totals = np.asarray(row_totals, dtype=np.float64)
    col_totals = np.asarray(col_totals, dtype=np.float64)
    if seed.ndim != 2 or seed.shape != (len(row_totals), len(col_totals)):
        raise ValueError(f"seed shape {seed.shape} does not fit {len(row_totals)} rows x {len(col_totals)} columns")
    if (seed < 0).any():
        raise ValueError("seed has negative entries")
    t = seed.copy()
    for _ in range(iters):
        cs = t.sum(axis=0)
        t *= np.divide(col_totals, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        rs = t.sum(axis=1)
        t *= np.divide(row_totals, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        if np.abs(t.sum(axis=0) - col_totals).max() <= 1e-12 * max(col_totals.sum(), 1e-300):
            break
    return t


@dataclass(frozen=True)
class AliasTable:
    """Walker alias tables for many distributions over the same K outcomes (one row each)."""

    prob: np.ndarray  # (rows * K,) float32: keep the column with this probability
    alias: np.ndarray  # (rows * K,) int16: otherwise take this column
    k: int

    @classmethod
    def build(cls, weights: np.ndarray) -> AliasTable:
        """Tables for each row of ``weights`` (rows need not be normalised; all-zero rows are refused)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError("weights must be a 2-D array (one distribution per row)")
        rows, k = w.shape
        if k > np.iinfo(np.int16).max:
            raise ValueError(f"{k} outcomes: at most {np.iinfo(np.int16).max}")
        sums = w.sum(axis=1)
        if (w < 0).any() or (sums <= 0).any():
            raise ValueError("every row needs non-negative weights with a positive sum")
        scaled = w / sums[:, None] * k
        prob = np.ones((rows, k))
        alias = np.tile(np.arange(k), (rows, 1))
        for r in range(rows):  # Vose's method; K is small (hundreds) and tables are cached
            p = scaled[r].tolist()
            small = [i for i, x in enumerate(p) if x < 1.0]
            large = [i for i, x in enumerate(p) if x >= 1.0]
            pr, al = prob[r], alias[r]
            while small and large:
                s, g = small.pop(), large.pop()
                pr[s], al[s] = p[s], g
                p[g] = p[g] + p[s] - 1.0
                (small if p[g] < 1.0 else large).append(g)
        return cls(prob.astype(np.float32).reshape(-1), alias.astype(np.int16).reshape(-1), k)

    @property
    def rows(self) -> int:
        return len(self.prob) // self.k

    def draw(self, rows: np.ndarray | int, u: np.ndarray) -> np.ndarray:
        """One outcome (int16) per uniform number in ``u`` from the distribution of its row."""
        x = u * np.float32(self.k) if u.dtype == np.float32 else u * self.k
        j = x.astype(np.int32)
        np.minimum(j, self.k - 1, out=j)
        frac = x - j
        idx = j if isinstance(rows, int) and rows == 0 else np.asarray(rows, dtype=np.int32) * self.k + j
        keep = frac < self.prob[idx]
        return np.where(keep, j.astype(np.int16), self.alias[idx])
