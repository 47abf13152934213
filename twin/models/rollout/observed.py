"""The observed rollout: MIC's card-issuance releases as one panel of cumulative counts.

Every few months from 2017 the Ministry of Internal Affairs and Communications (総務省) published
how many My Number cards had been handed over (マイナンバーカード交付枚数) in each of the 1,741
municipalities, each prefecture and each 5-year age band by sex. Each release is a folder
``<YYYYMMDD>/`` of CSV files (Code for Japan's parse, UTF-8 with BOM, Japanese headers). The
calibration fits the twin to these cumulative counts, so a damaged file must never be read
silently: a wrong header, a missing row, an empty cell (a gap in the series) or a date outside the
simulated period stops the run with an :class:`~twin.errors.InputError` naming file, row, column,
value and what is allowed. The tables are read, and municipalities typed, by the same code the
synthetic nation uses (:mod:`twin.population.statistics`, :mod:`twin.population.municipalities`).

The first release (2017-03-08) has no ``demographics.csv``; the age series starts with the next one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import InputError
from twin.population.municipalities import MUNICIPALITY_TYPES, municipality_type
from twin.population.statistics import AGE_BANDS, DEMO_COLUMNS, MUNI_COLUMNS, parse_count, parse_date, read_table

__all__ = [
    "AGE_BANDS",
    "APPLICATION_FIGURES",
    "BACKLOG_FIGURES",
    "MUNICIPALITY_TYPES",
    "Observed",
    "load_observed",
    "read_release",
]

#: applications made but no card yet in hand, as reported on a day (twin/data/FIGURES.md). The releases
#: count cards handed over only; how long the applied-but-not-issued stock takes to drain (the holder's
#: wait for a notice and an appointment) shows only in such a stock, so calibration fits it as its own
#: series (weight ``calibration.weights.backlog``). Mainichi's 2016-03 figure (490万 cards at the town
#: halls, not yet handed over) counts cards only, during J-LIS's 2016 production failures, and is not used.
BACKLOG_FIGURES: tuple[tuple[dt.date, float, str], ...] = (
    (dt.date(2020, 10, 31), 5_380_000.0, "Mainichi 2020-11-17: 538万 people waiting for their card (2020-10-31)"),
)

#: applications received in a month (first day, last day, count), twin/data/FIGURES.md: the response to the
#: payout and the phase-1 deadline rush, which the releases show only after production and hand-over
APPLICATION_FIGURES: tuple[tuple[dt.date, dt.date, float, str], ...] = (
    (dt.date(2020, 5, 1), dt.date(2020, 5, 31), 1_590_000.0, "jp24h: 159万 applications in May 2020 (cash payout)"),
    (dt.date(2020, 6, 1), dt.date(2020, 6, 30), 990_000.0, "jp24h: 99万 applications in June 2020"),
    (dt.date(2021, 3, 1), dt.date(2021, 3, 31), 2_540_000.0, "news 2021-04: 254万 applications in March 2021"),
)


@dataclass(frozen=True)
class Observed:
    """Cumulative cards issued at each release date: national, per municipality, per age band and sex."""

    dates: tuple[dt.date, ...]
    muni_code: np.ndarray  # (M,) int
    muni_name: tuple[str, ...]
    prefecture: np.ndarray  # (M,) 1..47
    prefecture_names: tuple[str, ...]  # 47
    muni_type: np.ndarray  # (M,) index into MUNICIPALITY_TYPES
    muni_population: np.ndarray  # (S, M) resident-register population each release rates against
    muni_cards: np.ndarray  # (S, M) cumulative cards issued
    band_population: np.ndarray  # (S, 21, 2), nan where a release has no age table
    band_cards: np.ndarray  # (S, 21, 2), nan where a release has no age table

    @property
    def national(self) -> np.ndarray:
        return self.muni_cards.sum(axis=1)

    def by_prefecture(self, per_muni: np.ndarray) -> np.ndarray:
        """Sum a (..., M) array into (..., 47) prefectures."""
        out = np.zeros(per_muni.shape[:-1] + (47,))
        for p in range(47):
            out[..., p] = per_muni[..., self.prefecture == p + 1].sum(axis=-1)
        return out


def read_release(
    folder: Path, start: dt.date, end: dt.date, reference: list[tuple[str, str, str]] | None = None
) -> tuple[dt.date, list[tuple[str, str, str]], np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One release folder: (date, rows (prefecture, municipality, code), population, cards, band pop, band cards)."""
    name = folder.name
    try:
        fdate = dt.date(int(name[:4]), int(name[4:6]), int(name[6:8]))
        if len(name) != 8:
            raise ValueError
    except ValueError:
        raise InputError(f"{folder}: release folder name {name!r} is not a date YYYYMMDD") from None
    display = f"{folder}/all_localgovs.csv"
    rows = read_table(folder / "all_localgovs.csv", MUNI_COLUMNS)
    keys: list[tuple[str, str, str]] = []
    pop = np.zeros(len(rows), dtype=np.int64)
    cards = np.zeros(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        where = f"{display}: row {i + 2} ({r[1]} {r[2]})"
        d = parse_date(r[0], where, MUNI_COLUMNS[0])
        if d != fdate:
            raise InputError(
                f"{where}: column {MUNI_COLUMNS[0]}: {r[0]} is not the release date {fdate:%Y/%m/%d} of its folder"
            )
        if not start <= d <= end:
            raise InputError(
                f"{where}: column {MUNI_COLUMNS[0]}: {r[0]} is outside the simulated period "
                f"{start.isoformat()} .. {end.isoformat()} (calendar.start .. calendar.end)"
            )
        pop[i] = parse_count(r[3], where, MUNI_COLUMNS[3])
        cards[i] = parse_count(r[4], where, MUNI_COLUMNS[4])
        keys.append((r[1], r[2], r[8]))
    if reference is not None:
        if len(keys) != len(reference):
            missing = [f"{p} {m}" for p, m, _ in reference if not any(k[0] == p and m.endswith(k[1]) for k in keys)]
            raise InputError(
                f"{display}: {len(keys)} municipality rows, expected {len(reference)} as in the first release"
                + (f" (missing: {', '.join(missing[:5])})" if missing else "")
            )
        for i, (k, ref) in enumerate(zip(keys, reference, strict=True)):
            same = k[0] == ref[0] and (k[2] == ref[2] or (not k[2].isdigit() and ref[1].endswith(k[1])))
            if not same:
                raise InputError(
                    f"{display}: row {i + 2}: {k[0]} {k[1]} (code {k[2]}) is not {ref[0]} {ref[1]} (code {ref[2]}) "
                    "of the first release; rows must list the same municipalities in the same order"
                )
    band_pop = band_cards = None
    demo_path = folder / "demographics.csv"
    if demo_path.exists():
        ddisplay = f"{folder}/demographics.csv"
        demo = [r for r in read_table(demo_path, DEMO_COLUMNS) if r[1] != "全体"]
        if len(demo) != len(AGE_BANDS):
            raise InputError(f"{ddisplay}: {len(demo)} age-band rows, expected {len(AGE_BANDS)} (0-4 .. 100+)")
        band_pop = np.zeros((len(AGE_BANDS), 2))
        band_cards = np.zeros((len(AGE_BANDS), 2))
        for a, r in enumerate(demo):
            where = f"{ddisplay}: row {a + 3} ({r[1]})"
            band_pop[a] = [parse_count(r[2], where, DEMO_COLUMNS[2]), parse_count(r[3], where, DEMO_COLUMNS[3])]
            band_cards[a] = [parse_count(r[5], where, DEMO_COLUMNS[5]), parse_count(r[6], where, DEMO_COLUMNS[6])]
    return fdate, keys, pop, cards, band_pop, band_cards


def load_observed(root: str | Path, start: dt.date, end: dt.date, *, only_inside: bool = False) -> Observed:
    """All release folders under ``root``, oldest first; each must be dated within [start, end]
    (with ``only_inside``, folders named with dates outside are skipped instead)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: observed series folder does not exist (expected release folders <YYYYMMDD>/)")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if only_inside:
        folders = [p for p in folders if start.strftime("%Y%m%d") <= p.name <= end.strftime("%Y%m%d")]
    if not folders:
        raise InputError(f"{root}: holds no release folders <YYYYMMDD>/")
    reference: list[tuple[str, str, str]] | None = None
    dates, pops, cards, bpops, bcards = [], [], [], [], []
    for folder in folders:
        d, keys, pop, c, bp, bc = read_release(folder, start, end, reference)
        if reference is None:
            reference = keys
        if dates and cards and np.any(c.sum() < cards[-1].sum()):
            raise InputError(
                f"{folder}/all_localgovs.csv: column 交付枚数: national total {c.sum():,} is below the "
                f"{cards[-1].sum():,} of the release before; cumulative counts cannot fall"
            )
        dates.append(d)
        pops.append(pop)
        cards.append(c)
        nan = np.full((len(AGE_BANDS), 2), np.nan)
        bpops.append(nan if bp is None else bp)
        bcards.append(nan if bc is None else bc)
    assert reference is not None
    codes = []
    for p, m, code in reference:
        if not code.isdigit():
            raise InputError(f"{folders[0]}/all_localgovs.csv: {p} {m}: column 団体コード: {code!r} is not a number")
        codes.append(int(code))
    code_arr = np.array(codes, dtype=np.int64)
    pref_names: list[str] = []
    for p, _, _ in reference:
        if p not in pref_names:
            pref_names.append(p)
    return Observed(
        dates=tuple(dates),
        muni_code=code_arr,
        muni_name=tuple(m for _, m, _ in reference),
        prefecture=(code_arr // 10000).astype(np.int64),
        prefecture_names=tuple(pref_names),
        muni_type=np.array(
            [MUNICIPALITY_TYPES.index(municipality_type(c, m)) for c, (_, m, _) in zip(codes, reference, strict=True)]
        ),
        muni_population=np.array(pops, dtype=np.float64),
        muni_cards=np.array(cards, dtype=np.float64),
        band_population=np.array(bpops),
        band_cards=np.array(bcards),
    )


def by_prefecture_and_type(obs: Observed) -> Observed:
    """The same releases with municipalities pooled by (prefecture, municipality type): at most 47 x 4
    units instead of 1,741. National, prefecture and age-band totals are unchanged; what is lost is
    the variation between municipalities of one type in one prefecture (word of mouth and counter
    queues then act on the pooled unit). Calibration searches on this geography and reports the fit of
    the full one."""
    key = obs.prefecture * 10 + obs.muni_type
    units, inverse = np.unique(key, return_inverse=True)
    k = len(units)

    def pool(a: np.ndarray) -> np.ndarray:
        out = np.zeros(a.shape[:-1] + (k,))
        for j in range(k):
            out[..., j] = a[..., inverse == j].sum(axis=-1)
        return out

    return Observed(
        dates=obs.dates,
        muni_code=(units // 10) * 10000 + units % 10,
        muni_name=tuple(f"{obs.prefecture_names[u // 10 - 1]} {MUNICIPALITY_TYPES[u % 10]}" for u in units),
        prefecture=units // 10,
        prefecture_names=obs.prefecture_names,
        muni_type=units % 10,
        muni_population=pool(obs.muni_population),
        muni_cards=pool(obs.muni_cards),
        band_population=obs.band_population,
        band_cards=obs.band_cards,
    )
