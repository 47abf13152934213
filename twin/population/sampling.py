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


def random_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform 32-bit integers straight from the generator's bit stream (the cheapest draws)."""
    return rng.integers(0, 2**32, size=n, dtype=np.uint32)


def threshold(p: np.ndarray | float) -> np.ndarray:
    """Probabilities as uint32 thresholds: ``bits < threshold(p)`` happens with probability p."""
    t = np.rint(np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0) * 2.0**32)
    return np.minimum(t, 2.0**32 - 1).astype(np.uint32)


@dataclass(frozen=True)
class AliasTable:
    """Walker alias tables for many distributions over the same K outcomes (one row each).

    Rows are padded to a power of two, 2**b columns (padding has probability 0), so one 32-bit
    random integer does both jobs: its top b bits pick a column, its low bits decide between the
    column and its alias.
    """

    thr: np.ndarray  # (rows << b,) uint32: keep the column when the low bits are below this
    alias: np.ndarray  # (rows << b,) int16: otherwise take this column
    k: int
    b: int

    @classmethod
    def build(cls, weights: np.ndarray) -> AliasTable:
        """Tables for each row of ``weights`` (rows need not be normalised; all-zero rows are refused)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError("weights must be a 2-D array (one distribution per row)")
        rows, k = w.shape
        if k > 2**15:
            raise ValueError(f"{k} outcomes: at most {2**15}")
        sums = w.sum(axis=1)
        if (w < 0).any() or (sums <= 0).any():
            raise ValueError("every row needs non-negative weights with a positive sum")
        b = max(1, int(np.ceil(np.log2(k))))
        kp = 1 << b
        scaled = np.zeros((rows, kp))
        scaled[:, :k] = w / sums[:, None] * kp
        prob = np.ones((rows, kp))
        alias = np.tile(np.arange(kp), (rows, 1))
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
            for i in small:  # rounding leftovers: zero-weight columns must never be kept
                pr[i] = 1.0 if scaled[r, i] > 0 else 0.0
                if scaled[r, i] == 0:
                    al[i] = int(np.argmax(scaled[r]))
        low = 2.0 ** (32 - b)
        thr = np.minimum(np.rint(prob * low), low).astype(np.uint32)
        return cls(thr.reshape(-1), alias.astype(np.int16).reshape(-1), k, b)

    @property
    def rows(self) -> int:
        return len(self.thr) >> self.b

    def draw(self, rows: np.ndarray | int, bits: np.ndarray) -> np.ndarray:
        """One outcome (int16) per 32-bit random integer in ``bits`` from the distribution of its row."""
        if bits.dtype != np.uint32:
            raise TypeError(f"bits must be uint32 random integers (random_bits), not {bits.dtype}")
        j = (bits >> np.uint32(32 - self.b)).astype(np.int32)
        if isinstance(rows, int):
            idx = j + (rows << self.b) if rows else j
        else:
            idx = np.left_shift(np.asarray(rows, dtype=np.int32), self.b)
            idx |= j
        low = bits & np.uint32((1 << (32 - self.b)) - 1)
        return np.where(low < self.thr[idx], j.astype(np.int16), self.alias[idx])
