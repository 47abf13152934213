"""The bundled public statistics the synthetic nation is built from (see twin/data/SOURCES.md).

Every month the Ministry of Internal Affairs and Communications (総務省) publishes how many My
Number cards have been issued (マイナンバーカード交付状況): per municipality, per prefecture, by
municipality type and by 5-year age band and sex, next to the resident-register population
(住民基本台帳人口) they are rated against. Code for Japan parsed 34 of those releases
(2017-03 .. 2021-12) into CSV files (UTF-8 with BOM, Japanese headers), bundled under
``twin/data/card_issuance/<YYYYMMDD>/``. This module reads one snapshot once and caches the parsed
tables as numpy arrays; it also holds the census and survey figures of ``twin/data/FIGURES.md`` the
nation is calibrated to (household sizes, internet use by age).

:func:`read_table`, :func:`parse_date` and :func:`parse_count` are the one reader of those tables:
the rollout model reads a whole series of releases with them (:mod:`twin.models.rollout.observed`).
A table whose header is not MIC's, a short row, an empty cell or a non-number stops with an
:class:`~twin.errors.InputError` naming file, row, column, value and what is allowed.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import InputError, describe_value

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CARD_ISSUANCE_DIR = DATA_DIR / "card_issuance"

#: 5-year age bands of demographics.csv, in file order (the last is 100 and over)
AGE_BANDS: tuple[str, ...] = tuple(f"{lo}-{lo + 4}" for lo in range(0, 100, 5)) + ("100+",)
N_BANDS = len(AGE_BANDS)
#: oldest single year of age the nation holds (100+ is spread over 100..MAX_AGE)
MAX_AGE = 104

#: leading columns of each table of a release, as MIC heads them (later columns are not read)
MUNI_COLUMNS = ("算出基準日", "都道府県名", "市区町村名", "総数（人口）", "交付枚数", "人口に対する交付枚数率",
                "人口算出基準日", "交付件数基準日", "団体コード")  # fmt: skip
PREF_COLUMNS = ("算出基準日", "都道府県名", "総数（人口）", "交付枚数")
TYPE_COLUMNS = ("算出基準日", "区分", "人口", "交付枚数")
DEMO_COLUMNS = ("算出基準日", "年齢", "人口(男)", "人口(女)", "人口(計)", "交付件数(男)", "交付件数(女)",
                "交付件数(計)")  # fmt: skip

# ---- census 2020 and other figures (twin/data/FIGURES.md) -----------------------------------
#: general households, census 2020
CENSUS_GENERAL_HOUSEHOLDS = 55_704_949
#: persons per general household, census 2020
CENSUS_PERSONS_PER_HOUSEHOLD = 2.21
#: one-person share of general households, census 2020 (21,151,042)
CENSUS_ONE_PERSON_SHARE = 0.380
#: household-size shape, census 2010 (1, 2, 3, 4, 5+ persons; 万 households): shape only
CENSUS_2010_SIZE_SHAPE = (1678.0, 1413.0, 942.0, 746.0, 674.0)
#: internet use of older people, 通信利用動向調査 2014: (age from, age to, male, female)
INTERNET_USE_OLDER_2014 = ((65, 69, 0.619, 0.525), (70, 79, 0.435, 0.313), (80, MAX_AGE, 0.204, 0.110))
#: internet use 2023: every age band 13-69 above 90 %; individuals 86.2 %
INTERNET_USE_13_69_2023 = 0.90
#: public-benefit receipt account (公金受取口座) registrations: (date, registrations or None, share of holders)
ACCOUNT_REGISTRATIONS = (
    (dt.date(2022, 3, 28), 0.0, None),  # Myna Portal registration opens
    (dt.date(2022, 9, 4), 14_050_000.0, None),
    (dt.date(2023, 5, 21), 54_321_031.0, 0.604),
    (dt.date(2023, 7, 2), 56_440_589.0, None),
)
#: cards held on 2025-12-03: 100,129,804 (80.3 %)
HOLDING_2025 = (dt.date(2025, 12, 3), 0.803)
#: the card was first issued in January 2016
CARD_START = dt.date(2016, 1, 1)


@functools.cache
def available_snapshots() -> tuple[str, ...]:
    """Snapshot dates (YYYYMMDD) of the bundled MIC card-issuance tables, oldest first."""
    return tuple(sorted(p.name for p in CARD_ISSUANCE_DIR.iterdir() if p.is_dir() and p.name.isdigit()))


def snapshot_date(snapshot: str) -> dt.date:
    return dt.date(int(snapshot[:4]), int(snapshot[4:6]), int(snapshot[6:8]))


@dataclass(frozen=True)
class Snapshot:
    """One MIC release as arrays. Municipality rows keep the file's order (prefecture, then code).

    ``muni_code`` is the 団体コード as printed in the file: the 6-digit local-government code with
    its check digit, as an int (Sapporo 011002 -> 11002; the prefecture is ``code // 10000``).
    """

    name: str
    date: dt.date
    population_date: dt.date
    muni_code: np.ndarray  # int32
    muni_name: tuple[str, ...]
    muni_prefecture_name: tuple[str, ...]
    muni_population: np.ndarray  # int64
    muni_cards: np.ndarray  # int64
    prefecture_name: tuple[str, ...]  # 47, file order (= prefecture code order)
    prefecture_population: np.ndarray
    prefecture_cards: np.ndarray
    #: by municipality type label of summary_by_types.csv: (population, cards)
    by_type: dict[str, tuple[int, int]]
    #: population and cards by age band (rows, AGE_BANDS order) and sex (columns: male, female)
    band_population: np.ndarray  # (21, 2) int64
    band_cards: np.ndarray  # (21, 2) int64
    #: the snapshot whose demographics.csv was used (the 2017-03-08 release has none)
    demographics_from: str

    @property
    def total_population(self) -> int:
        return int(self.muni_population.sum())


def read_table(path: Path, columns: tuple[str, ...]) -> list[list[str]]:
    """The data rows of one MIC table (a CSV file in UTF-8 with BOM) whose header starts with ``columns``."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise InputError(f"{path}: file is missing from the release folder") from None
    if not rows:
        raise InputError(f"{path}: the file is empty")
    head = tuple(rows[0])
    for i, want in enumerate(columns):
        got = head[i] if i < len(head) else None
        if got != want:
            raise InputError(
                f"{path}: column {i + 1} is {describe_value(got)}, expected {want!r} "
                f"(columns must be: {', '.join(columns)})"
            )
    if len(rows) < 2:
        raise InputError(f"{path}: has no data rows")
    for n, r in enumerate(rows[1:], start=2):
        if len(r) < len(columns):
            raise InputError(f"{path}: row {n}: {len(r)} cells, expected {len(columns)}")
    return rows[1:]


def parse_date(text: str, where: str, column: str) -> dt.date:
    """A cell written YYYY/MM/DD; ``where`` (file and row) and ``column`` name it in the error."""
    try:
        y, m, d = (int(x) for x in text.split("/"))
        return dt.date(y, m, d)
    except ValueError:
        raise InputError(f"{where}: column {column}: {describe_value(text)} is not a date (YYYY/MM/DD)") from None


def parse_count(text: str, where: str, column: str) -> int:
    """A cell holding a count (a whole number >= 0); an empty cell is a gap in the series."""
    if text.strip() == "":
        raise InputError(
            f"{where}: column {column}: the cell is empty (a gap in the series); a whole number >= 0 is required"
        )
    try:
        v = int(text)
    except ValueError:
        raise InputError(f"{where}: column {column}: {describe_value(text)} is not a whole number >= 0") from None
    if v < 0:
        raise InputError(f"{where}: column {column}: {v} is not a whole number >= 0")
    return v


@functools.cache
def _known_codes() -> dict[tuple[str, str], int]:
    """(prefecture, municipality) -> code, from every release (some later ones print <NA> for a few)."""
    known: dict[tuple[str, str], int] = {}
    for s in available_snapshots():
        for r in read_table(CARD_ISSUANCE_DIR / s / "all_localgovs.csv", MUNI_COLUMNS):
            if r[8].isdigit():
                known[(r[1], r[2])] = int(r[8])
    return known


def _code(row: list[str], folder: Path) -> int:
    if row[8].isdigit():
        return int(row[8])
    known = _known_codes()
    # later releases also shortened a few names (三宅島三宅村 -> 三宅村): match on the name's ending
    codes = {c for (pref, name), c in known.items() if pref == row[1] and name.endswith(row[2])}
    code = codes.pop() if len(codes) == 1 else None
    if code is None:
        raise InputError(f"{folder}/all_localgovs.csv: {row[1]} {row[2]}: municipal code {row[8]!r} is not a number")
    return code


def check_snapshot(snapshot: str) -> str:
    snaps = available_snapshots()
    if not isinstance(snapshot, str) or snapshot not in snaps:
        raise InputError(
            f"statistics snapshot {snapshot!r} is not bundled (allowed: YYYYMMDD dates {snaps[0]} .. {snaps[-1]}, "
            f"e.g. 20200401)"
        )
    return snapshot


@functools.cache
def load_snapshot(snapshot: str = "20200401") -> Snapshot:
    """Parse one snapshot's four tables (cached: each file is read once per process)."""
    check_snapshot(snapshot)
    folder = CARD_ISSUANCE_DIR / snapshot
    muni = read_table(folder / "all_localgovs.csv", MUNI_COLUMNS)
    pref = read_table(folder / "all_prefectures.csv", PREF_COLUMNS)
    types = read_table(folder / "summary_by_types.csv", TYPE_COLUMNS)
    demo_snap = snapshot
    if not (folder / "demographics.csv").exists():  # 20170308: take the nearest release that has one
        with_demo = [s for s in available_snapshots() if (CARD_ISSUANCE_DIR / s / "demographics.csv").exists()]
        demo_snap = min(with_demo, key=lambda s: abs((snapshot_date(s) - snapshot_date(snapshot)).days))
    demo = read_table(CARD_ISSUANCE_DIR / demo_snap / "demographics.csv", DEMO_COLUMNS)
    demo = [r for r in demo if r[1] != "全体"]
    if len(demo) != N_BANDS:
        raise InputError(f"{demo_snap}/demographics.csv: {len(demo)} age bands, expected {N_BANDS}")
    return Snapshot(
        name=snapshot,
        date=snapshot_date(snapshot),
        population_date=parse_date(muni[0][6], f"{folder}/all_localgovs.csv: row 2", MUNI_COLUMNS[6]),
        muni_code=np.array([_code(r, folder) for r in muni], dtype=np.int32),
        muni_name=tuple(r[2] for r in muni),
        muni_prefecture_name=tuple(r[1] for r in muni),
        muni_population=np.array([int(r[3]) for r in muni], dtype=np.int64),
        muni_cards=np.array([int(r[4]) for r in muni], dtype=np.int64),
        prefecture_name=tuple(r[1] for r in pref),
        prefecture_population=np.array([int(r[2]) for r in pref], dtype=np.int64),
        prefecture_cards=np.array([int(r[3]) for r in pref], dtype=np.int64),
        by_type={r[1]: (int(r[2]), int(r[3])) for r in types},
        band_population=np.array([[int(r[2]), int(r[3])] for r in demo], dtype=np.int64),
        band_cards=np.array([[int(r[5]), int(r[6])] for r in demo], dtype=np.int64),
        demographics_from=demo_snap,
    )


# ---- card holding at a date -------------------------------------------------------------------


@dataclass(frozen=True)
class HoldingTargets:
    """Card-holding rates to calibrate to: per municipality and per (age band, sex), at one date."""

    date: dt.date
    muni_rate: np.ndarray  # (M,) cards / population
    band_rate: np.ndarray  # (21, 2)
    #: how the rates were obtained, for the report's assumptions
    method: str


def holding_targets(snapshot: Snapshot, card_date: dt.date) -> HoldingTargets:
    """Holding rates at ``card_date``: interpolated between the bundled releases that bracket it.

    Before the first release the rates fall linearly to zero at the card's start (2016-01); after
    the last release (2021-12-01) the municipal and age pattern of that release is kept and shifted
    (on the logit scale) so the national rate follows a straight line to 80.3 % on 2025-12-03, the
    last published figure, and stays there.
    """
    snaps = available_snapshots()
    dates = [snapshot_date(s) for s in snaps]

    def rates(s: str) -> tuple[np.ndarray, np.ndarray]:
        t = load_snapshot(s)
        row = {int(c): i for i, c in enumerate(t.muni_code)}
        missing = [int(c) for c in snapshot.muni_code if int(c) not in row]
        if missing:
            raise InputError(f"release {s} has no row for municipalities {missing[:5]} of release {snapshot.name}")
        take = np.array([row[int(c)] for c in snapshot.muni_code], dtype=np.int64)
        band = t.band_cards / np.maximum(t.band_population, 1)
        return (t.muni_cards / np.maximum(t.muni_population, 1))[take], band

    if card_date <= CARD_START:
        return HoldingTargets(card_date, np.zeros(len(snapshot.muni_code)), np.zeros((N_BANDS, 2)), "before 2016-01")
    if card_date < dates[0]:
        m, b = rates(snaps[0])
        w = (card_date - CARD_START).days / (dates[0] - CARD_START).days
        return HoldingTargets(card_date, m * w, b * w, f"linear from 0 on 2016-01-01 to release {snaps[0]}")
    if card_date <= dates[-1]:
        i = int(np.searchsorted(np.array(dates, dtype="datetime64[D]"), np.datetime64(card_date), side="right")) - 1
        m0, b0 = rates(snaps[i])
        if dates[i] == card_date:
            return HoldingTargets(card_date, m0, b0, f"release {snaps[i]}")
        m1, b1 = rates(snaps[i + 1])
        w = (card_date - dates[i]).days / (dates[i + 1] - dates[i]).days
        return HoldingTargets(
            card_date, m0 + w * (m1 - m0), b0 + w * (b1 - b0), f"interpolated between {snaps[i]} and {snaps[i + 1]}"
        )
    m, b = rates(snaps[-1])
    last = load_snapshot(snaps[-1])
    r0 = last.muni_cards.sum() / last.muni_population.sum()  # national rate of the last release
    end, r_end = HOLDING_2025
    w = min(1.0, (card_date - dates[-1]).days / (end - dates[-1]).days)
    target = r0 + w * (r_end - r0)
    shift = _logit(target) - _logit(r0)
    m2 = _expit(_logit(np.clip(m, 1e-6, 1 - 1e-6)) + shift)
    b2 = _expit(_logit(np.clip(b, 1e-6, 1 - 1e-6)) + shift)
    return HoldingTargets(
        card_date, m2, b2, f"release {snaps[-1]} shifted on the logit scale to national {target:.1%} (assumed)"
    )


def account_share_of_holders(date: dt.date) -> float:
    """Share of card holders with a registered public-benefit receipt account (公金受取口座) on ``date``.

    Zero before registration opened (2022-03-28); 60.4 % of holders on 2023-05-21 (limo 41215),
    linear in between and constant afterwards (assumed: later counts are not in FIGURES.md).
    """
    start = ACCOUNT_REGISTRATIONS[0][0]
    d1, _, share1 = ACCOUNT_REGISTRATIONS[2]
    if date <= start:
        return 0.0
    if date >= d1:
        return float(share1)
    return float(share1) * (date - start).days / (d1 - start).days


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
