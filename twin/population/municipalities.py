"""Municipalities (市区町村): the 1,741 local governments that keep the resident register.

Japan's residents are registered by 1,718 cities, towns and villages and Tokyo's 23 special wards
(特別区). For the twin's questions a municipality's *type* matters (town halls of different sizes
work differently): ``special_ward`` (Tokyo 131xx), ``designated_city`` (the 20 政令指定都市; their
administrative wards are not separate rows in the MIC tables, the city is one row), ``city``
(other 市) and ``town_village`` (町 and 村). The type is derived from the municipal code and the
name and checked against the per-type totals MIC publishes (summary_by_types.csv).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.errors import InputError
from twin.population.statistics import Snapshot

#: municipality types, in the order used by ``Municipalities.type_index``
MUNICIPALITY_TYPES: tuple[str, ...] = ("special_ward", "designated_city", "city", "town_village")
#: summary_by_types.csv label of each type (releases from 2021-08 write 指定都市 for 政令指定都市)
TYPE_LABELS_JA = {
    "special_ward": "特別区",
    "designated_city": "指定都市",
    "city": "市（指定都市を除く）",
    "town_village": "町村",
}


def type_totals(snap: Snapshot) -> dict[str, tuple[int, int]]:
    """MIC's (population, cards) per municipality type, keyed by MUNICIPALITY_TYPES."""
    by_label = {k.replace("政令指定都市", "指定都市"): v for k, v in snap.by_type.items()}
    out = {}
    for t, label in TYPE_LABELS_JA.items():
        if label not in by_label:
            raise InputError(f"snapshot {snap.name}: summary_by_types.csv has no row {label!r}")
        out[t] = by_label[label]
    return out


#: the 20 designated cities (政令指定都市) by their 団体コード as printed in the MIC files
DESIGNATED_CITIES: dict[int, str] = {
    11002: "札幌市", 41009: "仙台市", 111007: "さいたま市", 121002: "千葉市", 141003: "横浜市",
    141305: "川崎市", 141500: "相模原市", 151009: "新潟市", 221007: "静岡市", 221309: "浜松市",
    231002: "名古屋市", 261009: "京都市", 271004: "大阪市", 271403: "堺市", 281000: "神戸市",
    331007: "岡山市", 341002: "広島市", 401005: "北九州市", 401307: "福岡市", 431001: "熊本市",
}  # fmt: skip


def municipality_type(code: int, name: str) -> str:
    """The type of one municipality from its code and name (see the module docstring)."""
    if code // 1000 == 131:
        return "special_ward"
    if code in DESIGNATED_CITIES:
        return "designated_city"
    if name.endswith(("町", "村")):
        return "town_village"
    if name.endswith("市"):
        return "city"
    raise InputError(f"municipality {code} {name!r}: name ends in neither 市, 町 nor 村; cannot derive its type")


@dataclass(frozen=True)
class Municipalities:
    """One row per municipality (struct of arrays, file order)."""

    code: np.ndarray  # int32, 団体コード (6-digit with check digit, leading zero dropped)
    name: np.ndarray  # str
    prefecture: np.ndarray  # int8, 1..47
    prefecture_name: np.ndarray  # str
    type: np.ndarray  # str, one of MUNICIPALITY_TYPES
    type_index: np.ndarray  # int8, index into MUNICIPALITY_TYPES
    population: np.ndarray  # int64, official resident-register population
    #: differences between the derived types and MIC's per-type totals (small, explained)
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.code)


def build_municipalities(snap: Snapshot) -> Municipalities:
    """The snapshot's municipalities with derived types, checked against MIC's per-type totals."""
    types = [municipality_type(int(c), n) for c, n in zip(snap.muni_code, snap.muni_name, strict=True)]
    type_index = np.array([MUNICIPALITY_TYPES.index(t) for t in types], dtype=np.int8)
    found = {DESIGNATED_CITIES[int(c)] for c in snap.muni_code if int(c) in DESIGNATED_CITIES}
    names = {n for c, n in zip(snap.muni_code, snap.muni_name, strict=True) if int(c) in DESIGNATED_CITIES}
    if found != names:
        raise InputError(f"snapshot {snap.name}: designated-city codes do not match their names ({sorted(names)})")
    notes = []
    for t, (official, _) in type_totals(snap).items():
        derived = int(snap.muni_population[type_index == MUNICIPALITY_TYPES.index(t)].sum())
        if derived != official:
            notes.append(f"type {t}: {derived:,} from the rows, {official:,} in summary_by_types.csv")
        # Releases before 2020-04 still count 那珂川市 (a city since 2018-10) among towns: 50,235 people.
        if abs(derived - official) > 0.001 * snap.total_population:
            raise InputError(
                f"snapshot {snap.name}: population of type {t} is {derived:,} from the municipality rows but "
                f"{official:,} in summary_by_types.csv"
            )
    prefecture = (snap.muni_code // 10000).astype(np.int8)
    return Municipalities(
        code=snap.muni_code.copy(),
        name=np.array(snap.muni_name),
        prefecture=prefecture,
        prefecture_name=np.array(snap.muni_prefecture_name),
        type=np.array(types),
        type_index=type_index,
        population=snap.muni_population.copy(),
        notes=tuple(notes),
    )
