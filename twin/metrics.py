"""Tidy metrics: every number a run produces is one row (time, option, metric, labels, value).

Models add rows one at a time or whole series at once; the run writes them to
``metrics.parquet`` sorted, so the same scenario, seed and scale always give the same bytes.
``labels`` is a ``key=value;key=value`` string with keys sorted (e.g. ``prefecture=13;type=city``),
easy to filter in pandas (``df.labels.str.contains("type=city")``) and stable across runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

COLUMNS = ["time", "option", "metric", "labels", "value"]


def label_text(labels: dict[str, object]) -> str:
    return ";".join(f"{k}={labels[k]}" for k in sorted(labels))


class Metrics:
    """Collects tidy rows in columnar chunks (cheap even for millions of rows)."""

    def __init__(self) -> None:
        self._chunks: list[pd.DataFrame] = []
        self._rows: list[tuple] = []

    def add(
        self,
        metric: str,
        value: float,
        *,
        option: str = "",
        time: dt.datetime | dt.date | None = None,
        **labels: object,
    ) -> None:
        """One value, e.g. ``m.add("population", 126_146_099, prefecture="13")``."""
        t = pd.Timestamp(time) if time is not None else pd.NaT
        self._rows.append((t, option, metric, label_text(labels), float(value)))

    def add_series(
        self,
        metric: str,
        times: Sequence | np.ndarray,
        values: Sequence | np.ndarray,
        *,
        option: str = "",
        **labels: object,
    ) -> None:
        """A time series of one metric with fixed labels."""
        values = np.asarray(values, dtype="float64")
        n = len(values)
        self._chunks.append(
            pd.DataFrame(
                {
                    "time": pd.to_datetime(np.asarray(times)).astype("datetime64[s]"),
                    "option": np.full(n, option, dtype=object),
                    "metric": np.full(n, metric, dtype=object),
                    "labels": np.full(n, label_text(labels), dtype=object),
                    "value": values,
                }
            )
        )

    def add_table(
        self,
        metric: str,
        keys: dict[str, Iterable[object]],
        values: Sequence | np.ndarray,
        *,
        option: str = "",
        time: dt.date | None = None,
        **fixed: object,
    ) -> None:
        """Many rows of one metric, one per key combination (e.g. population by prefecture)."""
        cols = {k: list(v) for k, v in keys.items()}
        values = np.asarray(values, dtype="float64")
        labels = [label_text({**fixed, **{k: cols[k][i] for k in cols}}) for i in range(len(values))]
        n = len(values)
        t = pd.Timestamp(time) if time is not None else pd.NaT
        self._chunks.append(
            pd.DataFrame(
                {
                    "time": pd.Series([t] * n, dtype="datetime64[s]"),
                    "option": np.full(n, option, dtype=object),
                    "metric": np.full(n, metric, dtype=object),
                    "labels": labels,
                    "value": values,
                }
            )
        )

    def extend(self, other: Metrics) -> None:
        self._chunks.extend(other._chunks)
        self._rows.extend(other._rows)

    def frame(self) -> pd.DataFrame:
        """All rows, sorted by (option, metric, labels, time): a stable order for stable bytes."""
        parts = list(self._chunks)
        if self._rows:
            parts.append(pd.DataFrame(self._rows, columns=COLUMNS).astype({"time": "datetime64[s]"}))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(COLUMNS, _DTYPES, strict=True)})
        df = pd.concat([p.astype({"time": "datetime64[s]"}) for p in parts], ignore_index=True)
        df = df.sort_values(["option", "metric", "labels", "time"], kind="stable", na_position="first")
        return df.reset_index(drop=True)[COLUMNS]


_DTYPES = ["datetime64[s]", "object", "object", "object", "float64"]


#: the columns of a run's metrics.parquet: the tidy rows plus their ``scope``
FILE_COLUMNS = ["time", "option", "metric", "labels", "scope", "value"]


def with_scope(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with a ``scope`` column: ``total`` for a number over the whole run (a headline total,
    no time), ``series`` for one point of a series at its ``time``. A model may report a metric both
    ways under one name (the run's total and its daily values); ``scope`` keeps them apart, so
    ``df[df.scope == "series"].groupby("metric").value.sum()`` never adds a total to its own days."""
    out = df.copy()
    out["scope"] = np.where(out["time"].isna(), "total", "series")
    return out[FILE_COLUMNS]


def write_parquet(df: pd.DataFrame, path: str) -> None:
    """Parquet with fixed options and no pandas index metadata, so equal frames give equal bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True)


def read_parquet(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)
