"""Reading replications: quantile bands and paired option comparisons with common random numbers.

One run of a payout says "90 % of households paid by day 41"; twenty replications say "day 38 to
44 in eight years out of ten". :func:`bands` gives that 10/50/90 % band for every number of a sweep.
:func:`paired` compares options the way a fair trial does: replication ``r`` of every option saw the
same households, the same delays and the same errors (common random numbers), so the difference
is taken replication by replication before its band is computed -- far narrower than the
difference of two independent bands, and it tells how often an option is better, not only by how much.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: the quantiles every band reports
QUANTILES = (0.1, 0.5, 0.9)
BAND_KEYS = ["point", "option", "origin", "metric", "labels", "time"]


def _quantile_columns(values: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    out = pd.DataFrame({"n": values.count()})
    out["mean"] = values.mean()
    for q in QUANTILES:
        out[f"q{round(q * 100):02d}"] = values.quantile(q)
    return out


def bands(results: pd.DataFrame, keys: Sequence[str] = BAND_KEYS) -> pd.DataFrame:
    """10/50/90 % quantiles (and mean, count of non-missing) over replications for each group of ``keys``.

    Quantiles interpolate linearly between order statistics (numpy's default); NaN values (a share
    never reached within the horizon) are left out and show as a smaller ``n``.
    """
    keys = [k for k in keys if k in results.columns]
    if results.empty:
        cols = {k: results[k] for k in keys}
        empty = pd.DataFrame(cols).iloc[0:0]
        for c in ["n", "mean", *(f"q{round(q * 100):02d}" for q in QUANTILES)]:
            empty[c] = pd.Series(dtype="float64")
        return empty.reset_index(drop=True)
    g = results.groupby(keys, sort=False, dropna=False)["value"]  # groups in the results' (stable) order
    out = _quantile_columns(g).reset_index()
    out["n"] = out["n"].astype("int64")
    return out


def paired(results: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Each option minus ``reference`` (default: the first option), replication by replication.

    Returns bands of the paired differences per (point, option, origin, metric, labels, time) and
    ``share_lower`` (the share of replications in which the option's value is below the reference's:
    for days-to-pay, how often the option is faster).
    """
    options = list(dict.fromkeys(results.loc[results["option"] != "", "option"]))
    if not options:
        raise ValueError("the results have no options to compare")
    ref = reference if reference is not None else options[0]
    if ref not in options:
        raise ValueError(f"reference option {ref!r} is not in the results (options: {', '.join(options)})")
    keys = ["point", "origin", "metric", "labels", "time", "replication"]
    keys = [k for k in keys if k in results.columns]
    base = results[results["option"] == ref].set_index(keys)["value"]
    rows = []
    for opt in options:
        if opt == ref:
            continue
        mine = results[results["option"] == opt].set_index(keys)["value"]
        diff = (mine - base.reindex(mine.index)).rename("value").reset_index()
        diff["option"] = opt
        diff["lower"] = (diff["value"] < 0).astype("float64").where(diff["value"].notna())
        rows.append(diff)
    if not rows:
        return bands(results.iloc[0:0])
    d = pd.concat(rows, ignore_index=True)
    group = [k for k in BAND_KEYS if k in d.columns]
    out = bands(d, group)
    share = d.groupby(group, sort=False, dropna=False)["lower"].mean().reset_index(drop=True)
    out["share_lower"] = share.to_numpy()
    out.insert(out.columns.get_loc("option") + 1, "reference", ref)
    return out


def headline_table(b: pd.DataFrame, point: int = 0) -> pd.DataFrame:
    """Wide headline table of one point: a row per metric, a ``median [q10, q90]`` column per option."""
    h = b[(b["origin"] == "summary") & (b["point"] == point)] if "point" in b.columns else b[b["origin"] == "summary"]
    if (h["option"] != "").any():  # per-option numbers exist: the rest (scale, seed) is context
        h = h[h["option"] != ""]
    cells = h.assign(cell=[band_text(r.q10, r.q50, r.q90) for r in h.itertuples()])
    wide = cells.pivot_table(index="metric", columns="option", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=list(dict.fromkeys(h["option"]))).reset_index()


def band_text(lo: float, mid: float, hi: float) -> str:
    """'41 [38, 44]': the median and its 10-90 % band, or one number when the band is a point."""
    if np.isnan(mid):
        return "–"
    if lo == hi == mid:
        return _num(mid)
    return f"{_num(mid)} [{_num(lo)}, {_num(hi)}]"


def _num(x: float) -> str:
    if np.isnan(x):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == int(x):
        return f"{int(x)}"
    return f"{x:.3g}"
