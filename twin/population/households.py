"""Households (世帯): who lives with whom, calibrated to the census and the national age pyramid.

A town hall sees residents in households: one head (世帯主) who receives the household's letters
and payouts, a spouse, children, sometimes an aged parent. The twin builds households from five
types with fixed slot layouts -- single (単独), couple (夫婦のみ), couple with children (夫婦と子),
lone parent with children (ひとり親と子) and three generations (head, spouse, head's parent,
children) -- and draws every member's age and sex so that

* household sizes follow the census: 38.0 % one-person, 2.21 persons per household (census 2020);
  sizes 2..5+ keep the census-2010 shape, exponentially tilted until the mean is 2.21;
* the ages of all members together follow the national pyramid (age band x sex) of the snapshot:
  a role x (age, sex) table is raked (iterative proportional fitting) to the role totals implied by
  the household mix and to the pyramid, starting from plausible role profiles;
* members are plausible relative to their head: spouse ages, parent-child gaps and the elder's
  gap are drawn *given the head's age* from joint tables raked to both the head's and the member's
  age profile, so heads are adults, children are 16-50 years younger than the head, couples are close
  in age.

The split of sizes into types and the role profiles are assumptions (census type shares are not in
the bundled figures); they are listed in :data:`ASSUMPTIONS`. Municipalities share the national age
pyramid: the bundled tables give ages only nationally, and summary_by_types.csv has no ages, so no
per-type adjustment can be justified from them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from twin.population.sampling import AliasTable, rake
from twin.population.statistics import (
    CENSUS_2010_SIZE_SHAPE,
    CENSUS_ONE_PERSON_SHARE,
    CENSUS_PERSONS_PER_HOUSEHOLD,
    MAX_AGE,
    load_snapshot,
)

N_AGES = MAX_AGE + 1
N_CELLS = 2 * N_AGES  # cell = age * 2 + sex (0 male, 1 female)
MAX_SIZE = 8
HOUSEHOLD_TYPES = ("single", "couple", "couple_children", "lone_parent", "three_generation")
#: how the census 5+ class splits into 5, 6, 7, 8 persons (assumed)
FIVE_PLUS_SPLIT = (0.62, 0.25, 0.09, 0.04)
#: type shares by size (assumed, in the shape of census type tables)
TYPE_BY_SIZE: dict[int, dict[str, float]] = {
    1: {"single": 1.0},
    2: {"couple": 0.70, "lone_parent": 0.30},
    3: {"couple_children": 0.70, "lone_parent": 0.18, "three_generation": 0.12},
    4: {"couple_children": 0.82, "lone_parent": 0.05, "three_generation": 0.13},
    5: {"couple_children": 0.55, "lone_parent": 0.03, "three_generation": 0.42},
}

# roles: (name, household type, kind, sexes allowed (weights m, f), age profile mean, sd, age min, age max)
ROLES = (
    ("single", "single", "head", (1.0, 1.0), 50, 25, 18, MAX_AGE),
    ("couple_head", "couple", "head", (1.0, 0.0), 65, 15, 20, MAX_AGE),
    ("couple_spouse", "couple", "spouse", (0.0, 1.0), 62, 15, 18, MAX_AGE),
    ("family_head", "couple_children", "head", (1.0, 0.0), 47, 10, 22, 89),
    ("family_spouse", "couple_children", "spouse", (0.0, 1.0), 45, 10, 20, 89),
    ("family_child", "couple_children", "child", (1.0, 1.0), 14, 11, 0, 59),
    ("lone_head", "lone_parent", "head", (0.3, 1.0), 55, 16, 20, 99),
    ("lone_child", "lone_parent", "child", (1.0, 1.0), 25, 15, 0, 69),
    ("gen3_head", "three_generation", "head", (1.0, 0.0), 50, 10, 25, 79),
    ("gen3_spouse", "three_generation", "spouse", (0.0, 1.0), 48, 10, 23, 79),
    ("gen3_elder", "three_generation", "elder", (0.5, 1.0), 80, 8, 50, MAX_AGE),
    ("gen3_child", "three_generation", "child", (1.0, 1.0), 15, 10, 0, 49),
)
ROLE_NAMES = tuple(r[0] for r in ROLES)
#: extra weight of women living alone, rising around age 72 (widowhood, assumed)
WIDOW_BOOST = 2.0
#: age gap kernels of members given the head: (mean, sd, min, max) of head age - member age
#: (for the elder: member age - head age)
GAPS = {"spouse": (2.0, 3.5, -10, 20), "child": (31.0, 6.0, 16, 50), "elder": (29.0, 5.0, 17, 45)}

ASSUMPTIONS = (
    ("household types by size", "2p: couple 70 %, lone parent 30 %; 3p: couple+children 70 %, lone parent 18 %, "
     "three generations 12 %; 4p: 82/5/13 %; 5+: 55/3/42 %"),
    ("5+ person households", "split 62 % five, 25 % six, 9 % seven, 4 % eight persons"),
    ("heads of couple households", "the husband (the register's usual practice); lone parents 77 % women"),
    ("age gaps", "spouse 2 +- 3.5 years younger; children 31 +- 6 (16..50) years younger than the head; "
     "the three-generation elder 29 +- 5 years older"),
    ("widowhood", "the prior weight of women living alone rises up to 3x around age 72 (assumed)"),
    ("municipal age structure", "national pyramid for every municipality (no per-municipality ages bundled)"),
)  # fmt: skip


def size_distribution(
    one_person: float = CENSUS_ONE_PERSON_SHARE, mean: float = CENSUS_PERSONS_PER_HOUSEHOLD
) -> np.ndarray:
    """P(size = 1..MAX_SIZE): ``one_person`` singles, 2..5+ in the 2010 shape tilted to the mean."""
    sizes = np.arange(2, MAX_SIZE + 1)
    shape = np.array([*CENSUS_2010_SIZE_SHAPE[1:4], *(CENSUS_2010_SIZE_SHAPE[4] * np.array(FIVE_PLUS_SPLIT))])
    want = (mean - one_person) / (1 - one_person)

    def p(theta: float) -> np.ndarray:
        w = shape * np.exp(theta * (sizes - 2))
        return w / w.sum()

    theta = brentq(lambda t: float(p(t) @ sizes) - want, -5, 5)
    return np.concatenate([[one_person], (1 - one_person) * p(theta)])


@dataclass(frozen=True)
class HouseholdModel:
    """Everything the builder draws from, fitted once per snapshot."""

    cat_type: np.ndarray  # (n_cat,) uint8 index into HOUSEHOLD_TYPES
    cat_size: np.ndarray  # (n_cat,) uint8
    cat_table: AliasTable  # one row: P(category)
    slot_role: np.ndarray  # (n_cat, MAX_SIZE) uint8 role of each position (255 = empty)
    head_role_of_cat: np.ndarray  # (n_cat,) uint8 row of head_table
    head_table: AliasTable  # rows: head roles (5), columns: cells
    dep_row_of_role: np.ndarray  # (n_roles,) int16: block of dep_table rows (x N_CELLS), -1 for heads
    dep_table: AliasTable  # rows: dependent role block * N_CELLS + head cell; columns: cells
    role_cells: np.ndarray  # (n_roles, N_CELLS) fitted role profiles (persons per household)
    expected_cells: np.ndarray  # (N_CELLS,) persons per household by cell the model implies
    pyramid: np.ndarray  # (N_CELLS,) national share by single-year cell (target)


def single_year_pyramid(band_population: np.ndarray) -> np.ndarray:
    """Spread the 21 bands x 2 sexes over single years 0..MAX_AGE (uniform; 100+ tapering)."""
    per_age = np.zeros((N_AGES, 2))
    for b in range(20):
        per_age[5 * b : 5 * b + 5] = band_population[b] / 5
    taper = np.array([0.4, 0.25, 0.17, 0.11, 0.07])
    per_age[100:105] = band_population[20][None, :] * taper[:, None]
    cells = per_age.reshape(-1)
    return cells / cells.sum()


def _profile(sex_w: tuple[float, float], mean: float, sd: float, lo: int, hi: int) -> np.ndarray:
    ages = np.arange(N_AGES)
    w = np.exp(-0.5 * ((ages - mean) / sd) ** 2) + 1e-3
    w[(ages < lo) | (ages > hi)] = 0
    return (w[:, None] * np.array(sex_w)[None, :]).reshape(-1)


def _gap_kernel(kind: str, head_role: np.ndarray, dep_role: np.ndarray) -> np.ndarray:
    mean, sd, lo, hi = GAPS[kind]
    ages = np.repeat(np.arange(N_AGES), 2)
    gap = ages[:, None] - ages[None, :]  # head age - member age
    if kind == "elder":
        gap = -gap
    k = np.exp(-0.5 * ((gap - mean) / sd) ** 2)
    k[(gap < lo) | (gap > hi)] = 0
    return k * (head_role > 0)[:, None] * (dep_role > 0)[None, :]


@functools.cache
def household_model(snapshot: str = "20200401") -> HouseholdModel:
    """Fit the household model to one snapshot's pyramid (cached)."""
    snap = load_snapshot(snapshot)
    pyramid = single_year_pyramid(snap.band_population)
    p_size = size_distribution()
    cats = [(HOUSEHOLD_TYPES.index(t), s, p_size[s - 1] * share)
            for s in range(1, MAX_SIZE + 1) for t, share in TYPE_BY_SIZE[min(s, 5)].items()
            if not (t == "couple_children" and s < 3) and not (t == "three_generation" and s < 3)]  # fmt: skip
    cat_type = np.array([c[0] for c in cats], dtype=np.uint8)
    cat_size = np.array([c[1] for c in cats], dtype=np.uint8)
    cat_p = np.array([c[2] for c in cats])
    cat_p /= cat_p.sum()
    role_of = {(r[1], r[2]): i for i, r in enumerate(ROLES)}
    slot_role = np.full((len(cats), MAX_SIZE), 255, dtype=np.uint8)
    for i, (t, s, _) in enumerate(cats):
        tname = HOUSEHOLD_TYPES[t]
        layout = ["head"] + {"single": [], "couple": ["spouse"], "couple_children": ["spouse"],
                             "lone_parent": [], "three_generation": ["spouse", "elder"]}[tname]  # fmt: skip
        layout += ["child"] * (s - len(layout))
        slot_role[i, :s] = [role_of[(tname, k)] for k in layout]
    # persons per household in each role
    role_mass = np.array([(cat_p[:, None] * (slot_role == r)).sum() for r in range(len(ROLES))])
    seeds = np.array([_profile(*r[3:]) for r in ROLES])
    # widowhood: among people living alone, women outnumber men more and more with age
    ages = np.arange(N_AGES)
    seeds[ROLE_NAMES.index("single"), 1::2] *= 1 + WIDOW_BOOST / (1 + np.exp(-(ages - 72) / 5))
    role_cells = rake(seeds, role_mass, pyramid * role_mass.sum())
    # dependents given the head: joint tables raked to (head profile, member profile)
    head_roles = [i for i, r in enumerate(ROLES) if r[2] == "head"]
    head_of_type = {ROLES[i][1]: i for i in head_roles}
    dep_roles = [i for i, r in enumerate(ROLES) if r[2] != "head"]
    dep_row = np.full(len(ROLES), -1, dtype=np.int16)
    dep_rows = []
    for j, r in enumerate(dep_roles):
        h = head_of_type[ROLES[r][1]]
        seed = _gap_kernel(ROLES[r][2], seeds[h], seeds[r])
        joint = rake(seed, role_cells[h], role_cells[r] * role_cells[h].sum() / role_cells[r].sum())
        cond = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
        empty = cond.sum(axis=1) == 0  # head cells this role never has: any valid row
        cond[empty] = role_cells[r] / role_cells[r].sum()
        dep_row[r] = j
        dep_rows.append(cond)
    expected = role_cells[head_roles].sum(axis=0)
    for r in dep_roles:
        h = head_of_type[ROLES[r][1]]
        j = dep_row[r]
        expected = expected + (role_cells[h] / role_cells[h].sum()) @ dep_rows[j] * role_mass[r]
    head_role_of_cat = np.array([head_roles.index(head_of_type[HOUSEHOLD_TYPES[t]]) for t in cat_type], np.uint8)
    return HouseholdModel(
        cat_type=cat_type,
        cat_size=cat_size,
        cat_table=AliasTable.build(cat_p[None, :]),
        slot_role=slot_role,
        head_role_of_cat=head_role_of_cat,
        head_table=AliasTable.build(role_cells[head_roles]),
        dep_row_of_role=dep_row,
        dep_table=AliasTable.build(np.concatenate(dep_rows)),
        role_cells=role_cells,
        expected_cells=expected,
        pyramid=pyramid,
    )
