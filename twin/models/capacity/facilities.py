"""The 229,717 receptions as actors: who they are, when they open, when their patients come.

A clinic in Sendai opens at 09:00 on weekdays and Saturday mornings and closes Thursday afternoon;
a few patients are already waiting at the door, the rest trickle in until 12:30 and again from
15:00. It started online checks (オンライン資格確認) in the spring of 2023 and has one
face-authentication reader (顔認証付きカードリーダー). The hospital down the road takes outpatients
08:30-11:30 and has five readers. Each patient who shows a My Number card puts it on a reader:
one or two face captures, the PIN if the face does not match, the staff's visual check (目視確認)
if the PIN is not known; patients queue for the reader. Then the reception sends an OCSP status
request (unless it checks a cached CRL) and an eligibility lookup over the network to the data
centre serving its region.

When the online check does not answer in time, the clinic's clerk tries again once or twice, then
confirms the patient's eligibility another way (the card face, a 資格確認書, a self-declaration form).

Every facility is a Mesa 3 agent (:class:`Facility`) in a :class:`FacilityModel`; the model's
random stream comes from the run's seed. At agent fidelity the run decides with AgentSet
operations which facilities check online and are open (``select``, in
:func:`twin.models.capacity.requests.build_day`), and each facility how often its reception retries
before it gives up and whether it then confirms another way (``shuffle_do("decide_retries")``, by the
rule of :mod:`twin.models.capacity.decisions` that the aggregate path applies to the columns; totals by
type with ``groupby``: :meth:`FacilityModel.falling_back_by_type`). How many patients each sees, their
arrival times and reader queues are drawn for all facilities at once (columnar cohorts,
:func:`patient_counts`, :func:`patient_day`). Drawn agent by agent (``do``, totals by type with
``groupby``: :meth:`FacilityModel.patients_by_type`, :func:`patients_per_agent`) they are the
reference the tests compare the columns with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import mesa
import numpy as np

from twin.models.capacity.decisions import RetryDecisions, decide_retries, decision_draws
from twin.models.capacity.demand import interpolate
from twin.models.capacity.params import FACILITY_TYPES, Params

#: JIS prefecture code (1-47) -> region; regions 0-3 are served from the eastern centre
REGION_OF_PREFECTURE = (
    [0] + [1] * 6 + [2] * 7 + [3] * 9 + [4] * 7 + [5] * 5 + [6] * 4 + [7] * 7 + [8]
)
REGIONS = ("hokkaido", "tohoku", "kanto", "chubu", "kinki", "chugoku", "shikoku", "kyushu", "okinawa")
#: weekday factor on a facility's daily patients (Monday after the weekend is the busiest)
WEEKDAY_FACTOR = np.array([1.25, 1.0, 0.95, 0.95, 1.0, 0.7, 0.3])


@dataclass(frozen=True)
class FacilityTable:
    """All facilities as columns (one row per facility)."""

    kind: np.ndarray  # index into FACILITY_TYPES
    municipality: np.ndarray  # index into the snapshot's municipalities
    prefecture: np.ndarray  # JIS code 1-47
    region: np.ndarray  # index into REGIONS
    readers: np.ndarray  # face-authentication readers
    adopted: np.ndarray  # ordinal day online checks started (huge: never in the horizon)
    open_days: np.ndarray  # [n, 7] bool, Monday first
    am: np.ndarray  # [n, 2] morning session (start, end) in minutes after midnight
    pm: np.ndarray  # [n, 2] afternoon session; start == end: none
    pm_days: np.ndarray  # [n, 7] bool: afternoon session on that weekday
    size: np.ndarray  # relative volume (mean 1 within a type)

    def __len__(self) -> int:
        return len(self.kind)


def adoption_days(points: list[tuple[dt.date, float]], u: np.ndarray) -> np.ndarray:
    """The day each facility started, by inverting the type's adoption share curve at its ``u``."""
    xs = np.array([p[0].toordinal() for p in points], dtype=float)
    ys = np.maximum.accumulate(np.array([p[1] for p in points], dtype=float))
    day = np.interp(u, ys, xs)
    # below the first point: spread over the year before it; above the last share: never
    day = np.where(u < ys[0], xs[0] - 365 * (1 - u / max(ys[0], 1e-12)), day)
    return np.where(u > ys[-1], 10**7, np.floor(day)).astype(np.int64)


def build_facilities(params: Params, rng: np.random.Generator) -> FacilityTable:
    """Every facility of every type (params.facilities.count), placed by municipal population."""
    from twin.population.statistics import available_snapshots, load_snapshot

    fac = params.facilities
    snap = load_snapshot(available_snapshots()[-1])
    pop = np.asarray(snap.muni_population, dtype=float)
    pref_names = list(snap.prefecture_name)
    pref_of_muni = np.array([pref_names.index(p) + 1 for p in snap.muni_prefecture_name])
    kinds, munis, readers, adopted, size = [], [], [], [], []
    am, pm, open_days, pm_days = [], [], [], []
    for k, t in enumerate(FACILITY_TYPES):
        n = int(fac.count[t])
        kinds.append(np.full(n, k, dtype=np.int8))
        munis.append(rng.choice(len(pop), size=n, p=pop / pop.sum()))
        adopted.append(adoption_days(fac.adoption[t], rng.random(n)))
        sz = rng.lognormal(-0.5 * np.log(1 + fac.size_cv**2), np.sqrt(np.log(1 + fac.size_cv**2)), n)
        size.append(sz / sz.mean())
        o = np.ones((n, 7), dtype=bool)
        o[:, 6] = False  # Sunday closed
        p_days = o.copy()
        p_days[:, 5] = False  # no Saturday afternoon
        if t == "hospital":
            o[:, 5] = rng.random(n) < 0.5
            start = np.where(rng.random(n) < 0.8, 8 * 60 + 30, 8 * 60)
            a = np.stack([start, np.full(n, 11 * 60 + 30)], 1)
            p = np.stack([np.full(n, 13 * 60), np.where(rng.random(n) < 0.4, 16 * 60, 13 * 60)], 1)
            r = 2 + rng.poisson(2.0 * sz / sz.mean())
        elif t == "clinic":
            start = np.where(rng.random(n) < 0.3, 8 * 60 + 30, 9 * 60)
            a = np.stack([start, np.full(n, 12 * 60 + 30)], 1)
            p = np.stack([np.full(n, 15 * 60), np.where(rng.random(n) < 0.5, 18 * 60, 18 * 60 + 30)], 1)
            p_days[:, 3] &= rng.random(n) >= 0.5  # half close on Thursday afternoon
            r = 1 + (rng.random(n) < 0.1)
        elif t == "dental":
            a = np.stack([np.full(n, 9 * 60 + 30), np.full(n, 13 * 60)], 1)
            p = np.stack([np.full(n, 14 * 60 + 30), np.full(n, 19 * 60)], 1)
            off = rng.integers(0, 5, n)
            o[np.arange(n), off] &= rng.random(n) >= 0.5  # half take one weekday off
            p_days &= o
            r = np.ones(n, dtype=np.int64)
        else:  # pharmacy: continuous hours, the afternoon session carries on from the morning
            a = np.stack([np.full(n, 9 * 60), np.full(n, 13 * 60)], 1)
            p = np.stack([np.full(n, 13 * 60), np.full(n, 18 * 60)], 1)
            r = 1 + (rng.random(n) < 0.2)
        am.append(a)
        pm.append(p)
        open_days.append(o)
        pm_days.append(p_days & o)
        readers.append(np.asarray(r, dtype=np.int64))
    muni = np.concatenate(munis)
    pref = pref_of_muni[muni]
    return FacilityTable(
        np.concatenate(kinds), muni, pref, np.array(REGION_OF_PREFECTURE)[pref - 1], np.concatenate(readers),
        np.concatenate(adopted), np.concatenate(open_days), np.concatenate(am), np.concatenate(pm),
        np.concatenate(pm_days), np.concatenate(size),
    )


def daily_mean(params: Params, table: FacilityTable) -> np.ndarray:
    """Expected checks of each facility on an average open weekday of the reference month.

    The per-type volume is set so that the reference month's expected checks by type are the
    sourced totals (MHLW 医療保険部会 181, July 2024), given who was adopted and open that month."""
    fac, d = params.facilities, params.demand
    y, m = (int(x) for x in d.reference_month.split("-"))
    first = dt.date(y, m, 1)
    days = [first + dt.timedelta(days=i) for i in range(31) if (first + dt.timedelta(days=i)).month == m]
    weight = np.zeros(len(table))
    for day in days:
        weight += is_open(table, day) * WEEKDAY_FACTOR[day.weekday()]
    out = np.zeros(len(table))
    for k, t in enumerate(FACILITY_TYPES):
        mk = table.kind == k
        denom = (weight[mk] * table.size[mk]).sum()
        out[mk] = table.size[mk] * fac.checks_reference_month[t] / max(denom, 1e-9)
    return out


def is_open(table: FacilityTable, day: dt.date) -> np.ndarray:
    """Checking online and open on ``day`` (the same rule as :meth:`Facility.operating`)."""
    return (table.adopted <= day.toordinal()) & table.open_days[:, day.weekday()]


class Facility(mesa.Agent):
    """One hospital, clinic, dental clinic or pharmacy (医療機関・薬局), a row of the table."""

    def __init__(self, model: FacilityModel, row: int) -> None:
        super().__init__(model)
        self.row = row
        t = model.table
        self.kind = FACILITY_TYPES[int(t.kind[row])]
        self.readers = int(t.readers[row])
        self.adopted = int(t.adopted[row])
        self.open_days = t.open_days[row]
        self.patients = 0
        self.max_retries = -1  # not decided yet
        self.falls_back = False

    def operating(self, day: dt.date) -> bool:
        """Checks online and is open that day."""
        return self.adopted <= day.toordinal() and bool(self.open_days[day.weekday()])

    def draw_patients(self, day: dt.date) -> None:
        """The day's patients: Poisson around the facility's mean for this weekday and season."""
        lam = self.model.mean[self.row] * self.model.day_factor(day)
        self.patients = int(self.model.rng.poisson(lam))

    def decide_retries(self) -> None:
        """How often its reception tries the online check again, and whether it then confirms another way:
        the rule the columns use (:func:`~twin.models.capacity.decisions.decide_retries`), on its own row."""
        m = self.model
        d = decide_retries(m.table.kind[self.row:self.row + 1], m.decision_u[self.row:self.row + 1], m.params)
        self.max_retries, self.falls_back = int(d.max_retries[0]), bool(d.falls_back[0])


class FacilityModel(mesa.Model):
    """All facilities as agents; the random stream is the run's (``rng`` from the run's seed)."""

    def __init__(self, params: Params, table: FacilityTable, seed: int) -> None:
        super().__init__(rng=np.random.default_rng(seed))
        self.params = params
        self.table = table
        self.mean = daily_mean(params, table)
        #: each facility's draw for its retry decision (the decision's own stream of the run's seed)
        self.decision_u = decision_draws(seed, len(table))
        for row in range(len(table)):
            Facility(self, row)

    def day_factor(self, day: dt.date) -> float:
        d = self.params.demand
        ref_month = int(d.reference_month.split("-")[1])
        return float(WEEKDAY_FACTOR[day.weekday()] * d.season.get(day.month, 1.0) / d.season.get(ref_month, 1.0))

    def operating(self, day: dt.date) -> mesa.agent.AgentSet:
        return self.agents.select(lambda a: a.operating(day))

    def decide_retries(self) -> RetryDecisions:
        """Every facility decides its retries and fallback (``shuffle_do``, in an order from the Model's
        stream; each reads its own draw, so the order changes nothing), collected as columns by row."""
        self.agents.shuffle_do("decide_retries")
        rows = np.array(self.agents.get("row"), dtype=np.int64)
        limit = np.empty(len(self.table), dtype=np.int64)
        falls = np.empty(len(self.table), dtype=bool)
        limit[rows] = self.agents.get("max_retries")
        falls[rows] = self.agents.get("falls_back")
        return RetryDecisions(limit, falls)

    def falling_back_by_type(self) -> dict[str, int]:
        """Facilities that confirm another way once they give up, by type (AgentSet groupby)."""
        got = self.agents.groupby("kind").agg("falls_back", sum)
        return {t: int(got.get(t, 0)) for t in FACILITY_TYPES}

    def patients_by_type(self, day: dt.date) -> dict[str, int]:
        """The day's patients per facility type, agent by agent (AgentSet do + groupby)."""
        on = self.operating(day)
        on.do("draw_patients", day)
        got = on.groupby("kind").agg("patients", sum)
        return {t: int(got.get(t, 0)) for t in FACILITY_TYPES}


def patients_per_agent(model: FacilityModel, day: dt.date) -> np.ndarray:
    """Per-facility patient counts drawn agent by agent (the reference for :func:`patient_counts`)."""
    out = np.zeros(len(model.table), dtype=np.int64)
    on = model.operating(day)
    on.do("draw_patients", day)
    for a in on:
        out[a.row] = a.patients
    return out


def patient_counts(model: FacilityModel, day: dt.date, rng: np.random.Generator,
                   operating: np.ndarray | None = None) -> np.ndarray:
    """The same draw for all facilities at once (columnar)."""
    on = is_open(model.table, day) if operating is None else operating
    lam = np.where(on, model.mean * model.day_factor(day), 0.0)
    return rng.poisson(lam)


@dataclass(frozen=True)
class PatientDay:
    """One day's patients at all facilities (seconds after midnight), and their checks."""

    facility: np.ndarray
    arrival: np.ndarray
    card: np.ndarray  # bool: shows the My Number card
    method: np.ndarray  # 0 number, 1 face, 2 pin, 3 visual, 4 fell back to the number
    send: np.ndarray  # when the reception sends its requests (after the reader)
    reader_wait: np.ndarray  # seconds queued for a reader (card patients)


def patient_day(model: FacilityModel, day: dt.date, counts: np.ndarray, rng: np.random.Generator,
                opening_burst: float, card_share: float | None = None) -> PatientDay:
    """Arrival times within each facility's sessions, the reader, and when the checks go out."""
    t = model.table
    p = model.params
    fac_of = np.repeat(np.arange(len(t)), counts)  # grouped by facility
    n = len(fac_of)
    wd = day.weekday()
    am0, am1 = t.am[:, 0].astype(float), t.am[:, 1].astype(float)
    pm0 = t.pm[:, 0].astype(float)
    pm_len_f = np.where(t.pm_days[:, wd], t.pm[:, 1] - t.pm[:, 0], 0).astype(float)
    am_len_f = am1 - am0
    p_pm = np.repeat(pm_len_f / np.maximum(am_len_f + pm_len_f, 1e-9), counts)
    in_pm = rng.random(n) < p_pm
    s0 = np.where(in_pm, np.repeat(pm0, counts), np.repeat(am0, counts))
    length = np.where(in_pm, np.repeat(pm_len_f, counts), np.repeat(am_len_f, counts))
    # a share of each session's patients wait at the door and come in the first ten minutes;
    # the rest come over the session, fewer towards its end (triangular, mode at the start)
    burst = rng.random(n) < opening_burst
    u = rng.random(n)
    within = np.where(burst, u * 10.0, length * (1 - np.sqrt(1 - u)))
    arrival = (s0 + within) * 60.0
    share = interpolate(p.demand.card_share, day) if card_share is None else card_share
    card = rng.random(n) < share
    ci = np.flatnonzero(card)
    nc = len(ci)
    rec = p.reception
    tries = np.minimum(rng.geometric(rec.match_rate, nc), rec.max_face_attempts + 1)
    face_ok = tries <= rec.max_face_attempts
    knows = rng.random(nc) < rec.knows_pin
    visual = rng.random(nc) < rec.visual_check
    m_card = np.where(face_ok, 1, np.where(knows, 2, np.where(visual, 3, 4)))
    faces = np.minimum(tries, rec.max_face_attempts)
    busy_c = rec.card_seconds + faces * rec.face_seconds + np.where(m_card == 2, rec.pin_seconds, 0.0)
    method = np.zeros(n, dtype=np.int8)
    method[ci] = m_card
    busy = np.zeros(n)
    busy[ci] = busy_c
    # card patients queue for the facility's readers, in arrival order (patient j of a facility
    # takes reader j mod r); a single-server queue per reader, solved for all readers at once
    end = np.zeros(n)
    if nc:
        f = fac_of[ci]
        o = np.lexsort((arrival[ci], f))
        ci = ci[o]
        f = f[o]
        first = np.r_[True, f[1:] != f[:-1]]
        rank = np.arange(nc) - np.maximum.accumulate(np.where(first, np.arange(nc), 0))
        rd = rank % t.readers[f]
        key = np.lexsort((arrival[ci], rd, f))
        idx = ci[key]
        seg = f[key] * 64 + rd[key]
        new = np.r_[True, seg[1:] != seg[:-1]]
        gid = np.cumsum(new) - 1
        s = busy[idx]
        cs = np.cumsum(s)
        start_cs = cs - s  # service before each patient, globally
        base = start_cs[np.flatnonzero(new)][gid]
        s_before = start_cs - base  # within the queue
        # Lindley: end_i = S_i + max_{j<=i} (a_j - S_{j-1}); segments separated by a large offset
        big = 1e7
        lead = arrival[idx] - s_before + gid * big
        end[idx] = np.maximum.accumulate(lead) - gid * big + s_before + s
    send = np.where(card, end, arrival + np.where(method == 0, p.requests.staff_seconds, 0.0))
    wait = np.where(card, end - busy - arrival, 0.0)
    return PatientDay(fac_of, arrival, card, method, send, wait)
