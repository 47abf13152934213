"""Clients that give up and try again: requests with timeouts and retries through a chain of stations.

Picture a clinic's reception PC at 09:00 on a Monday. It sends an eligibility request to the
centre and waits at most five seconds. When the answer comes back in time, the patient is checked
in (goodput). When it does not, the PC gives up, waits (nothing, a fixed back-off that doubles, or
a random share of it: "jitter") and sends the request again, up to a fixed number of times. The
server does not know the client gave up: a request that has timed out at the client is still
queued and still served, so when the queue is long the servers spend their time on answers nobody
waits for while the retries add to the queue. That is how an overload outlives its cause (a
*metastable failure*): the surge passes, but the retries keep the offered load above capacity.
Two things stop it: a retry budget with jittered back-off, and admission control at the server
(requests that have waited longer than ``shed_after`` seconds are dropped unserved, and the client
hears "busy" at once).

A request class is a stream of first attempts (``sends``, seconds, sorted), a route through one or
more stations (e.g. eligibility, then the database), a one-way network hop, a client timeout and a
:class:`RetryPolicy`; optionally a limit of retries per request (``max_retries``: each reception
decides how often it tries again before it gives up on the online check), which otherwise is the
policy's. A request may start further along its route (``first_stage``: a card whose certificate status a cache
answered skips the OCSP responder), and a stage may be a gate (``gates``): an attempt whose client has already given
up when that stage is done goes no further (the eligibility centre checks the card certificate's status first and
looks up nothing for a reception that has stopped waiting). The stations are
:class:`twin.sim.batch.BatchStation` objects used with time in seconds and no calendar. :func:`simulate` plays
the attempts in chunks of ``chunk`` seconds: each chunk's first attempts and due retries go to their first
station, each station serves what
has reached it before the chunk's end (earlier stations first), and the responses decide the
retries. Retries are placed at ``send + timeout + back-off`` (after a timeout) or at the moment
the client heard "busy" plus the back-off; a retry that the chunking decides only after its time
has passed is sent at the next chunk instead and counted as ``deferred``: none on single-station routes whose
chunk is shorter than the timeout less the two hops, nor behind a gate, as a short chunk also ends before the
earliest retry of an attempt still on its way past a gate (or 10 ms after it starts, whichever is later); on
other routes a later station can make an attempt late and defer its retry.

:func:`reference` is the same model written with one SimPy process per attempt through
:class:`twin.sim.station.Station`; on the same inputs both give the same responses.

Results are per-minute histograms of response times (log-spaced bins) and counts: offered
attempts, first attempts, retries, goodput, timeouts, shed, and queue lengths and arrivals at each station at
each minute; and which requests were given up for good and which were answered (so that a caller can say who sent
them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import simpy

from twin.sim.batch import BatchStation
from twin.sim.distributions import Distribution
from twin.sim.station import Station

RetryKind = Literal["none", "immediate", "backoff", "backoff_jitter"]
#: histogram bins of response time: log-spaced from 10 µs to 1e5 s (2.3 % per bin)
BIN_EDGES = np.concatenate([[0.0], np.logspace(-5, 5, 1001)])
OK, TIMEOUT, SHED = 0, 1, 2
#: the most retries a request may be allowed (attempt numbers are stored in 16 bits)
MAX_RETRIES = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """What a client does after a timeout or a "busy" answer.

    ``immediate`` retries at once; ``backoff`` waits ``base * multiplier**(k-1)`` seconds before
    retry k (at most ``cap``); ``backoff_jitter`` waits a uniform share of that ("full jitter").
    ``max_retries`` must be a whole number: unbounded retries are a configuration error.
    """

    kind: RetryKind = "backoff_jitter"
    max_retries: int = 3
    base: float = 0.5
    multiplier: float = 2.0
    cap: float = 30.0
    #: retry budget (Finagle's RetryBudget, gRPC's retry throttling): the clients of a class send at
    #: most ``budget`` retries per first attempt sent in the last ``budget_window`` seconds; a retry
    #: over the budget is not sent and the request fails. None: no budget (every allowed retry is sent).
    budget: float | None = None
    budget_window: float = 10.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "immediate", "backoff", "backoff_jitter"):
            raise ValueError(f"kind: {self.kind!r} is not one of none, immediate, backoff, backoff_jitter")
        if self.max_retries is None or isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError(f"max_retries: {self.max_retries!r}: retries need a whole-number limit (unbounded "
                             "retries are refused)")
        if self.max_retries < 0:
            raise ValueError(f"max_retries: {self.max_retries!r} must be >= 0")
        for name in ("base", "cap"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name}: {v!r} must be a finite number of seconds >= 0")
        if not self.multiplier >= 1:
            raise ValueError(f"multiplier: {self.multiplier!r} must be >= 1")
        if self.budget is not None and not (0 <= self.budget and math.isfinite(self.budget)):
            raise ValueError(f"budget: {self.budget!r} must be a finite number of retries per first attempt >= 0")
        if not (self.budget_window > 0 and math.isfinite(self.budget_window)):
            raise ValueError(f"budget_window: {self.budget_window!r} must be a number of seconds > 0")

    @property
    def retries(self) -> int:
        return 0 if self.kind == "none" else self.max_retries

    def delay(self, retry: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Seconds to wait before retry number ``retry`` (1, 2, ...); ``u`` uniform in [0, 1)."""
        retry = np.asarray(retry, dtype=np.float64)
        if self.kind in ("none", "immediate"):
            return np.zeros_like(retry)
        d = np.minimum(self.base * self.multiplier ** (retry - 1), self.cap)
        return d * u if self.kind == "backoff_jitter" else d

    @property
    def min_delay(self) -> float:
        return self.base if self.kind == "backoff" else 0.0


@dataclass
class RequestClass:
    """A stream of client requests: first attempts at ``sends`` (seconds, sorted) along ``route``."""

    name: str
    sends: np.ndarray
    route: tuple[str, ...]
    service: tuple[Distribution, ...]  # one per station on the route
    timeout: float
    policy: RetryPolicy
    hop: float | np.ndarray = 0.0  # one-way network delay, seconds (or one per request)
    #: optional fixed service times [request, attempt, stage] and jitter draws [request, attempt]
    #: (tests use them to give two engines the same randomness)
    service_table: np.ndarray | None = None
    jitter_table: np.ndarray | None = None
    #: optional retries allowed per request (whole numbers >= 0, one per request: the limit the sender decided);
    #: None: the policy's ``max_retries`` for every request. A policy of kind "none" allows none either way.
    max_retries: np.ndarray | None = None
    #: optional stage of the route each request starts at (whole numbers, one per request, below the route's length:
    #: a request that needs not visit the leading stations); None: every request starts at the first station
    first_stage: np.ndarray | None = None
    #: stages (indices into the route) that end an attempt whose client has given up by the time they are done: the
    #: server goes on to the next station only while the client still waits for the answer (a status check that
    #: comes back too late ends the request); at other stages a late attempt is still served on (the server does
    #: not know the client has gone)
    gates: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.sends = np.asarray(self.sends, dtype=np.float64)
        if self.max_retries is not None:
            m = np.asarray(self.max_retries)
            if (m.shape != self.sends.shape or (m.size and not np.issubdtype(m.dtype, np.integer))
                    or (m.size and not (m.min() >= 0 and m.max() <= MAX_RETRIES))):
                got = f"shape {m.shape}, dtype {m.dtype}" + (f", {m.min()}..{m.max()}" if m.size and m.ndim else "")
                raise ValueError(f"{self.name}.max_retries: one whole number 0-{MAX_RETRIES} per request "
                                 f"({len(self.sends)} requests), got {got}")
            self.max_retries = m.astype(np.int64)
        if self.first_stage is not None:
            f = np.asarray(self.first_stage)
            if (f.shape != self.sends.shape or (f.size and not np.issubdtype(f.dtype, np.integer))
                    or (f.size and not (f.min() >= 0 and f.max() < len(self.route)))):
                raise ValueError(f"{self.name}.first_stage: one stage 0-{len(self.route) - 1} of the route per request "
                                 f"({len(self.sends)} requests), got shape {f.shape}, dtype {f.dtype}")
            self.first_stage = f.astype(np.int64)
        self.gates = tuple(int(g) for g in self.gates)
        if any(not 0 <= g < len(self.route) for g in self.gates):
            raise ValueError(f"{self.name}.gates: {self.gates} are not all stages of the route {self.route}")
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"{self.name}.timeout: {self.timeout!r} must be a number of seconds > 0")
        h = np.asarray(self.hop, dtype=np.float64)
        if h.ndim > 1 or (h.ndim == 1 and len(h) != len(self.sends)) or not (np.all(h >= 0) and np.all(np.isfinite(h))):
            raise ValueError(f"{self.name}.hop: must be seconds >= 0, one number or one per request")
        self.hop = float(h) if h.ndim == 0 else h
        if len(self.service) != len(self.route) or not self.route:
            raise ValueError(f"{self.name}: one service distribution per station on the route")
        if len(self.sends) and np.any(np.diff(self.sends) < 0):
            raise ValueError(f"{self.name}.sends must be sorted")

    @property
    def max_hop(self) -> float:
        return float(np.max(self.hop)) if np.ndim(self.hop) and len(self.hop) else float(np.max(self.hop, initial=0))

    def hop_of(self, req: np.ndarray) -> np.ndarray | float:
        return self.hop[req] if np.ndim(self.hop) else self.hop

    def first_stage_of(self, req: np.ndarray) -> np.ndarray:
        """The stage of the route requests ``req`` start at."""
        req = np.asarray(req)
        return np.zeros(req.shape, dtype=np.int64) if self.first_stage is None else self.first_stage[req]

    def retries_of(self, req: np.ndarray) -> np.ndarray:
        """Retries allowed to requests ``req``: their own limit where given, else the policy's."""
        req = np.asarray(req)
        if self.policy.kind == "none":
            return np.zeros(req.shape, dtype=np.int64)
        if self.max_retries is None:
            return np.full(req.shape, self.policy.max_retries, dtype=np.int64)
        return self.max_retries[req]

    @property
    def most_retries(self) -> int:
        """The most retries any request of the class may send."""
        if self.policy.kind == "none" or self.max_retries is None:
            return self.policy.retries
        return int(self.max_retries.max(initial=0))


@dataclass
class ClientResult:
    """Per-minute outcomes of a :func:`simulate` run (minute m covers [60 m, 60 m + 60) s)."""

    minutes: int
    classes: tuple[str, ...]
    hist: np.ndarray  # [class, minute, bin] responses of attempts sent that minute (all, incl. timed out)
    offered: np.ndarray  # [class, minute] attempts sent
    first: np.ndarray  # [class, minute] first attempts sent
    retries: np.ndarray  # [class, minute] retries sent
    goodput: np.ndarray  # [class, minute] attempts answered within the timeout
    timeouts: np.ndarray  # [class, minute] attempts the client gave up on
    shed: np.ndarray  # [class, minute] attempts refused by admission control
    failed: np.ndarray  # [class, minute] requests given up for good (last attempt failed), by first send
    queue: dict[str, np.ndarray]  # station -> waiting requests at the start of each minute
    busy_seconds: dict[str, np.ndarray]  # station -> server-seconds of work started each minute
    deferred: int = 0
    attempts: dict[str, np.ndarray] = field(default_factory=dict)  # when keep=True: per-attempt arrays
    #: per class (in the order of ``classes``): the requests given up for good, as sorted request indices
    failed_requests: tuple[np.ndarray, ...] = ()
    #: per class: the requests answered within the timeout (at some attempt), as sorted request indices; a request
    #: in neither tuple was still waiting for its answer or its next try at the horizon
    answered_requests: tuple[np.ndarray, ...] = ()
    #: station -> attempts that reached it in each minute (every class; a request's stages each reach their own)
    arrivals: dict[str, np.ndarray] = field(default_factory=dict)

    def quantile(self, q: float, cls: str | None = None, minutes: slice | np.ndarray | None = None) -> np.ndarray:
        """Response-time quantile per minute (NaN where nothing was sent); ``minutes`` pools minutes."""
        h = self.hist if cls is None else self.hist[[self.classes.index(cls)]]
        h = h.sum(axis=0)
        if minutes is not None:
            h = h[minutes].sum(axis=0, keepdims=True)
        return hist_quantile(h, q)


def hist_quantile(h: np.ndarray, q: float) -> np.ndarray:
    """Quantile of each row of a histogram over :data:`BIN_EDGES` (linear within a bin)."""
    h = np.atleast_2d(h).astype(np.float64)
    n = h.sum(axis=1)
    c = np.cumsum(h, axis=1)
    target = q * n
    k = np.array([np.searchsorted(c[i], target[i], side="left") for i in range(len(h))])
    k = np.minimum(k, h.shape[1] - 1)
    below = np.where(k > 0, c[np.arange(len(h)), np.maximum(k - 1, 0)], 0.0)
    inbin = h[np.arange(len(h)), k]
    frac = np.where(inbin > 0, (target - below) / np.where(inbin > 0, inbin, 1), 0.0)
    lo, hi = BIN_EDGES[k], BIN_EDGES[k + 1]
    out = lo + frac * (hi - lo)
    return np.where(n > 0, out, np.nan)


class _Acc:
    """Running per-minute tallies."""

    def __init__(self, n_cls: int, minutes: int, stations: Sequence[str]) -> None:
        self.m = minutes
        self.hist = np.zeros((n_cls, minutes, len(BIN_EDGES) - 1), dtype=np.int64)
        z = lambda: np.zeros((n_cls, minutes), dtype=np.int64)  # noqa: E731
        self.offered, self.first, self.retries = z(), z(), z()
        self.goodput, self.timeouts, self.shed, self.failed = z(), z(), z(), z()
        self.q_in = {s: np.zeros(minutes + 1, dtype=np.int64) for s in stations}
        self.q_out = {s: np.zeros(minutes + 1, dtype=np.int64) for s in stations}
        self.busy = {s: np.zeros(minutes, dtype=np.float64) for s in stations}

    def minute(self, t: np.ndarray) -> np.ndarray:
        m = (np.asarray(t) * (1 / 60.0)).astype(np.int64)
        np.minimum(m, self.m - 1, out=m)
        np.maximum(m, 0, out=m)
        return m

    def count(self, arr: np.ndarray, ci: int, t: np.ndarray) -> None:
        if len(t):
            arr[ci] += np.bincount(self.minute(t), minlength=self.m)[: self.m]


class _Attempts:
    """A growable columnar table of attempts (amortised doubling)."""

    def __init__(self) -> None:
        self.n = 0
        self.cls = np.zeros(1024, np.int16)
        self.req = np.zeros(1024, np.int64)
        self.k = np.zeros(1024, np.int16)
        self.send = np.zeros(1024, np.float64)

    def add(self, c: np.ndarray, r: np.ndarray, k: np.ndarray, s: np.ndarray) -> np.ndarray:
        need = self.n + len(c)
        if need > len(self.cls):
            size = max(need, 2 * len(self.cls))
            for name in ("cls", "req", "k", "send"):
                old = getattr(self, name)
                new = np.zeros(size, old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        sl = slice(self.n, need)
        self.cls[sl], self.req[sl], self.k[sl], self.send[sl] = c, r, k, s
        ids = np.arange(self.n, need)
        self.n = need
        return ids


def _pend(t: np.ndarray, ids: np.ndarray, stg: np.ndarray, dec: np.ndarray) -> tuple:
    """A chunk of arrivals waiting to reach a station, with its earliest time."""
    return (t, ids, stg, dec, float(t.min()) if len(t) else math.inf)


class _Rollback(Exception):
    """A speculative long chunk created a retry inside itself: redo it in short chunks."""


def simulate(
    classes: Sequence[RequestClass],
    stations: dict[str, BatchStation],
    horizon: float,
    *,
    rng: np.random.Generator,
    shed_after: dict[str, float] | None = None,
    chunk: float | None = None,
    long_chunk: float = 60.0,
    keep: bool = False,
) -> ClientResult:
    """Play every class's attempts through ``stations`` until ``horizon`` seconds (see module doc).

    ``shed_after[station]``: admission control, seconds a request may wait there before it is
    dropped unserved (the client hears "busy" then). Attempts still unanswered at the horizon are
    counted by what their client saw by then; retries due after the horizon are not sent.

    The short ``chunk`` (default: the shortest timeout or shedding limit less two hops plus the
    shortest back-off) guarantees that a retry lands after the chunk that caused it. While nothing
    fails, whole minutes (``long_chunk``) are played at once; a long chunk that creates a retry
    inside itself is undone (stations, random stream, tallies) and replayed in short chunks, so the
    result is the short-chunk result. ``keep`` returns per-attempt arrays (small runs)."""
    shed_after = dict(shed_after or {})
    for name, v in shed_after.items():
        if name not in stations:
            raise ValueError(f"shed_after: {name!r} is not a station ({', '.join(stations)})")
        if not v > 0:
            raise ValueError(f"shed_after.{name}: {v!r} must be > 0 seconds")
    order = list(stations)
    for c in classes:
        for s in c.route:
            if s not in stations:
                raise ValueError(f"{c.name}.route: {s!r} is not a station ({', '.join(order)})")
        pos = [order.index(s) for s in c.route]
        if pos != sorted(pos) or len(set(pos)) != len(pos):
            raise ValueError(f"{c.name}.route: stations must follow the order {order}")
    if chunk is None:
        slack = min((min(c.timeout, *(shed_after.get(s, np.inf) for s in c.route)) - 2 * c.max_hop
                     + c.policy.min_delay) for c in classes) if classes else 1.0
        chunk = float(np.clip(slack, 0.01, 60.0))
    long_chunk = max(long_chunk, chunk)
    minutes = max(1, int(math.ceil(horizon / 60.0)))
    acc = _Acc(len(classes), minutes, order)
    n_cls = len(classes)
    tbl = _Attempts()  # every attempt: class, request, attempt number, send time
    timeouts = np.array([c.timeout for c in classes])
    scalar_hops = all(np.ndim(c.hop) == 0 for c in classes)
    hops = np.array([c.hop if np.ndim(c.hop) == 0 else 0.0 for c in classes])

    def hop_for(cl: np.ndarray, req: np.ndarray) -> np.ndarray:
        if scalar_hops:
            return hops[cl]
        out = np.empty(len(cl))
        for ci in np.unique(cl).tolist():
            m = cl == ci
            out[m] = classes[ci].hop_of(req[m])
        return out
    lengths = np.array([len(c.route) for c in classes])
    gated = np.zeros((n_cls, int(lengths.max(initial=1))), dtype=bool)  # [class, stage]: the stage is a gate
    for ci, c in enumerate(classes):
        gated[ci, list(c.gates)] = True
    retries_allowed = np.array([c.policy.retries for c in classes])
    # an attempt's earliest retry: its timeout after its send, plus the shortest back-off
    earliest_retry = timeouts + np.array([c.policy.min_delay for c in classes])
    # the classes whose attempts a short chunk waits for at their later stations (see safe_end)
    watched = np.array([bool(c.gates) for c in classes], dtype=bool)
    # classes whose requests carry their own limits (the others allow every request the policy's)
    own_limits = [ci for ci, c in enumerate(classes) if c.max_retries is not None and c.policy.kind != "none"]
    # the state a long chunk may have to undo
    st: dict = {
        # per station: pending arrivals (time, attempt id, stage, outcome already decided), as array chunks
        "pending": {s: [] for s in order},
        "retry_q": [],  # (time, cls, req, k) chunks
        "cursor": [0] * n_cls,
        "deferred": 0,
        # retry budget: (chunk end, first attempts, retries granted) per class, over the last window
        "blog": [],
        "cur_first": np.zeros(n_cls, np.int64),
        "cur_granted": np.zeros(n_cls, np.int64),
    }
    budgets = [c.policy.budget if c.most_retries else None for c in classes]
    budget_window = max((c.policy.budget_window for c in classes if c.policy.budget is not None), default=0.0)

    def grant(cl: np.ndarray, again: np.ndarray, t1: float) -> np.ndarray:
        """The retries the classes' budgets allow (first come first granted); the rest fail."""
        if not any(b is not None for b in budgets) or not again.any():
            return again
        out = again.copy()
        for ci in np.unique(cl[again]).tolist():
            b = budgets[ci]
            if b is None:
                continue
            w = classes[ci].policy.budget_window
            firsts = st["cur_first"][ci] + sum(int(f[ci]) for te, f, _ in st["blog"] if te > t1 - w)
            used = st["cur_granted"][ci] + sum(int(g[ci]) for te, _, g in st["blog"] if te > t1 - w)
            allowed = max(int(math.floor(b * firsts)) - int(used), 0)
            idx = np.flatnonzero(again & (cl == ci))
            out[idx[allowed:]] = False
            st["cur_granted"][ci] += min(allowed, len(idx))
        return out
    keep_resp: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    keep_late: list[tuple[np.ndarray, np.ndarray]] = []
    failed_log: list[tuple[np.ndarray, np.ndarray]] = []  # (class, request) of requests given up for good
    answered_log: list[tuple[np.ndarray, np.ndarray]] = []  # (class, request) of requests answered in time

    def limits(cl: np.ndarray, rq: np.ndarray) -> np.ndarray:
        """Retries allowed to each attempt's request."""
        out = retries_allowed[cl]
        if own_limits:
            out = out.copy()
            for ci in own_limits:
                m = cl == ci
                if m.any():
                    out[m] = classes[ci].retries_of(rq[m])
        return out

    def service_for(ci: int, req: np.ndarray, k: np.ndarray, stage: int) -> np.ndarray:
        c = classes[ci]
        if c.service_table is not None:
            return c.service_table[req, k, stage]
        return c.service[stage].sample(rng, len(req))

    def finish(ids, outcome, t_known, resp, t0, t1, strict, fx) -> None:
        """Attempts whose client outcome is now known: tally them, schedule retries."""
        cl, rq, kk, sd = tbl.cls[ids], tbl.req[ids], tbl.k[ids], tbl.send[ids]
        if keep:
            fx.append(lambda: keep_resp.append((ids, outcome, resp)))
        bad = outcome != OK
        may = np.zeros(len(cl), dtype=bool)  # another try allowed: only the failed attempts are looked at
        if bad.any():
            may[bad] = kk[bad] < limits(cl[bad], rq[bad])
        again = grant(cl, may, t1)
        last = bad & ~again
        mins = acc.minute(sd)
        bins = np.searchsorted(BIN_EDGES, np.minimum(resp, BIN_EDGES[-1] * 0.999), side="right") - 1

        def tally() -> None:
            np.add.at(acc.hist, (cl, mins, bins), 1)
            for arr, mask in ((acc.goodput, outcome == OK), (acc.timeouts, outcome == TIMEOUT),
                              (acc.shed, outcome == SHED), (acc.failed, last)):
                if mask.any():
                    np.add.at(arr, (cl[mask], mins[mask]), 1)
            if last.any():
                failed_log.append((cl[last], rq[last]))
            if (~bad).any():
                answered_log.append((cl[~bad], rq[~bad]))
        fx.append(tally)
        if again.any():
            cla, rqa, k_next = cl[again], rq[again], kk[again] + 1
            t = np.empty(len(cla))
            for ci in np.unique(cla).tolist():
                c = classes[ci]
                m = cla == ci
                u = (c.jitter_table[rqa[m], k_next[m]] if c.jitter_table is not None else rng.random(int(m.sum())))
                t[m] = t_known[again][m] + c.policy.delay(k_next[m], u)
            late = t < t1
            if late.any():
                if not strict:
                    raise _Rollback
                st["deferred"] += int(late.sum())
                t = np.where(late, t1, t)
            st["retry_q"].append((t, cla, rqa, k_next))

    def step(t0: float, t1: float, strict: bool, fx: list) -> None:
        """Play [t0, t1): new attempts, then every station in route order."""
        pending = st["pending"]
        new_c, new_r, new_k, new_s = [], [], [], []
        cursor = st["cursor"]
        for ci, c in enumerate(classes):
            j = int(np.searchsorted(c.sends, t1, side="left"))
            if j > cursor[ci]:
                new_c.append(np.full(j - cursor[ci], ci, dtype=np.int16))
                new_r.append(np.arange(cursor[ci], j))
                new_k.append(np.zeros(j - cursor[ci], dtype=np.int16))
                new_s.append(c.sends[cursor[ci]:j])
                cursor[ci] = j
        rq = st["retry_q"]
        if rq:
            rt = np.concatenate([x[0] for x in rq]) if len(rq) > 1 else rq[0][0]
            due = rt < t1
            if due.any():
                rc, rr, rk = ((np.concatenate([x[i] for x in rq]) if len(rq) > 1 else rq[0][i]) for i in (1, 2, 3))
                new_c.append(rc[due].astype(np.int16))
                new_r.append(rr[due])
                new_k.append(rk[due].astype(np.int16))
                new_s.append(rt[due])
                st["retry_q"] = [(rt[~due], rc[~due], rr[~due], rk[~due])] if not due.all() else []
        if new_c:
            nc, nr, nk, ns = (np.concatenate(x) if len(x) > 1 else x[0] for x in (new_c, new_r, new_k, new_s))
            ids = tbl.add(nc, nr, nk, ns)
            mins = acc.minute(ns)
            if budget_window:
                st["cur_first"] = st["cur_first"] + np.bincount(nc[nk == 0], minlength=n_cls)

            def tally_new(nc=nc, nk=nk, mins=mins) -> None:
                np.add.at(acc.offered, (nc, mins), 1)
                f = nk == 0
                np.add.at(acc.first, (nc[f], mins[f]), 1)
                np.add.at(acc.retries, (nc[~f], mins[~f]), 1)
            fx.append(tally_new)
            for ci, c in enumerate(classes):
                m = nc == ci
                k0 = int(m.sum())
                if not k0:
                    continue
                if c.first_stage is None:
                    pending[c.route[0]] = pending[c.route[0]] + [
                        _pend(ns[m] + c.hop_of(nr[m]), ids[m], np.zeros(k0, dtype=np.int64), np.zeros(k0, dtype=bool))]
                    continue
                arrive, ids_m, stage = ns[m] + c.hop_of(nr[m]), ids[m], c.first_stage[nr[m]]
                for sg in np.unique(stage).tolist():
                    mm = stage == sg
                    pending[c.route[sg]] = pending[c.route[sg]] + [
                        _pend(arrive[mm], ids_m[mm], stage[mm], np.zeros(int(mm.sum()), dtype=bool))]
        for sname in order:
            chunks = pending[sname]
            if not chunks:
                continue
            # only the chunks with something due before t1 are opened (a backlog's far-future
            # arrivals at the next station stay untouched until their time comes)
            last_chunk = t1 >= horizon
            due_chunks = [x for x in chunks if last_chunk or x[4] < t1]
            if not due_chunks:
                continue
            keep_chunks = [x for x in chunks if not (last_chunk or x[4] < t1)]
            t, ids, stg, dec = ((np.concatenate([x[i] for x in due_chunks]) if len(due_chunks) > 1
                                 else due_chunks[0][i]) for i in range(4))
            now_mask = np.ones(len(t), dtype=bool) if last_chunk else t < t1
            rest = ~now_mask
            if rest.any():
                keep_chunks.append(_pend(t[rest], ids[rest], stg[rest], dec[rest]))
            pending[sname] = keep_chunks
            t, ids, stg, dec = t[now_mask], ids[now_mask], stg[now_mask], dec[now_mask]
            o = np.argsort(t, kind="stable")
            t, ids, stg, dec = t[o], ids[o], stg[o], dec[o]
            cl = tbl.cls[ids]
            svc = np.empty(len(t))
            single = n_cls == 1 and len(classes[0].route) == 1
            if single:
                svc[:] = service_for(0, tbl.req[ids], tbl.k[ids], 0)
            else:
                for ci in np.unique(cl).tolist():
                    m = cl == ci
                    for sg in np.unique(stg[m]).tolist():
                        mm = m & (stg == sg)
                        svc[mm] = service_for(ci, tbl.req[ids[mm]], tbl.k[ids[mm]], sg)
            patience = np.full(len(t), shed_after[sname]) if sname in shed_after else None
            log = stations[sname].serve(t, svc, patience)
            stations[sname]._logs.clear()  # the per-minute tallies below keep what is needed
            shed = log.reneged
            gone = np.where(shed, log.left, log.start)
            t_min, g_min = acc.minute(t) + 1, acc.minute(gone) + 1
            srv = ~shed
            s_min, s_svc = acc.minute(log.start[srv]), svc[srv]

            def tally_station(sname=sname, t_min=t_min, g_min=g_min, s_min=s_min, s_svc=s_svc) -> None:
                acc.q_in[sname] += np.bincount(t_min, minlength=minutes + 1)[: minutes + 1]
                acc.q_out[sname] += np.bincount(g_min, minlength=minutes + 1)[: minutes + 1]
                acc.busy[sname] += np.bincount(s_min, weights=s_svc, minlength=minutes)[:minutes]
            fx.append(tally_station)
            # route on: next station, or back to the client
            send = tbl.send[ids]
            timeout, hop, nstage = timeouts[cl], hop_for(cl, tbl.req[ids]), lengths[cl]
            last = (stg + 1 == nstage) & ~shed
            back = last | shed
            heard = np.where(back, log.left, log.end) + hop  # the earliest the client can hear
            resp = heard - send
            late = resp > timeout  # the client has given up already: known now
            done = (back | late) & ~dec
            if done.any():
                r = np.where(back, resp, np.inf)[done]
                is_to = late[done]
                outcome = np.where(is_to, TIMEOUT, np.where(shed[done], SHED, OK))
                known = np.where(is_to, send[done] + timeout[done], heard[done])
                finish(ids[done], outcome, known, r, t0, t1, strict, fx)
            if keep:  # the server's eventual answer to a timed-out attempt, for the record
                fin = back & dec
                if fin.any():
                    fx.append(lambda a=ids[fin], b=resp[fin]: keep_late.append((a, b)))
            fwd = ~back
            if gated.any():  # a gate ends the attempts whose client has given up (their timeout is tallied above)
                fwd &= ~(late & gated[cl, stg])
            if fwd.any():
                dec2 = dec | late
                for ci in np.unique(cl[fwd]).tolist():
                    c = classes[ci]
                    for sg in np.unique(stg[fwd & (cl == ci)]).tolist():
                        mm = fwd & (cl == ci) & (stg == sg)
                        nxt = c.route[sg + 1]
                        pending[nxt] = pending[nxt] + [_pend(log.end[mm], ids[mm], stg[mm] + 1, dec2[mm])]

    def safe_end(t0: float, t1: float) -> float:
        """Where a short chunk from ``t0`` must end, at ``t1`` at the latest, so that the attempts it plays decide
        no retry inside it. The chunk length takes care of the attempts sent in the chunk; an attempt waiting to
        reach a later station of its route was sent earlier, and a timeout there would retry at its send plus the
        timeout: the chunk ends there at the latest (never shorter than 10 ms: a retry that still falls inside is
        deferred). Only for the classes with a gate, whose attempts pass it up to their last moment (a status check
        that queued for most of the timeout); the others' later stations (a database after the lookup) add little,
        and cutting their chunks would change the order of the service draws of every run that has them."""
        if not watched.any():
            return t1
        end = t1
        for sname in order:
            for t, ids, _stg, dec, tmin in st["pending"][sname]:
                if tmin >= end:
                    continue
                m = (t < end) & ~dec
                m[m] = watched[tbl.cls[ids[m]]]
                if m.any():
                    i = ids[m]
                    end = min(end, float((tbl.send[i] + earliest_retry[tbl.cls[i]]).min()))
        return max(end, min(t0 + 0.01, t1))

    def close_step(t1: float) -> None:
        """Move this step's budget counts into the log and forget what left the window."""
        if budget_window:
            st["blog"] = [x for x in st["blog"] if x[0] > t1 - budget_window] + [
                (t1, st["cur_first"].copy(), st["cur_granted"].copy())]
            st["cur_first"], st["cur_granted"] = np.zeros(n_cls, np.int64), np.zeros(n_cls, np.int64)

    def snapshot() -> tuple:
        return (
            {s: list(v) for s, v in st["pending"].items()}, list(st["retry_q"]), list(st["cursor"]), st["deferred"],
            tbl.n, rng.bit_generator.state,
            {n: (list(b._free), list(b._off), b._k, b._last_arrival) for n, b in stations.items()},
            (list(st["blog"]), st["cur_first"].copy(), st["cur_granted"].copy()),
        )

    def restore(snap: tuple) -> None:
        pend, rq, cur, dfr, n, rs, sts, bud = snap
        st["pending"], st["retry_q"], st["cursor"], st["deferred"] = pend, rq, cur, dfr
        st["blog"], st["cur_first"], st["cur_granted"] = bud
        tbl.n = n
        rng.bit_generator.state = rs
        for name, (free, off, k, la) in sts.items():
            b = stations[name]
            b._free, b._off, b._k, b._last_arrival = free, off, k, la

    t0 = 0.0
    while t0 < horizon:
        t1 = min(t0 + long_chunk, horizon)
        fx: list = []
        if long_chunk > chunk:
            snap = snapshot()
            try:
                step(t0, t1, False, fx)
                close_step(t1)
            except _Rollback:
                restore(snap)
                fx = []
                t = t0
                while t < t1:
                    u = safe_end(t, min(t + chunk, t1))
                    step(t, u, True, fx)
                    close_step(u)
                    t = u
        else:
            t1 = safe_end(t0, t1)
            step(t0, t1, True, fx)
            close_step(t1)
        for f in fx:
            f()
        t0 = t1
    # what is still queued at the horizon: the client saw a timeout if its time has passed
    left_ids = [x[1][~x[3]] for s in order for x in st["pending"][s]]
    if sum(len(x) for x in left_ids):
        ids = np.concatenate(left_ids)
        fx = []
        finish(ids, np.full(len(ids), TIMEOUT), tbl.send[ids] + timeouts[tbl.cls[ids]], np.full(len(ids), np.inf),
               horizon, horizon, True, fx)
        for f in fx:
            f()
    # the queue at the start of each minute: arrived before it, not yet started or dropped
    queue = {s: np.cumsum(acc.q_in[s])[:minutes] - np.cumsum(acc.q_out[s])[:minutes] for s in order}
    attempts: dict[str, np.ndarray] = {}
    if keep:
        n_att = tbl.n
        resp = np.full(n_att, np.nan)
        outc = np.full(n_att, -1)
        for ids, o, r in keep_resp:
            resp[ids] = r
            outc[ids] = o
        for ids, r in keep_late:
            resp[ids] = r
        attempts = {"cls": tbl.cls[:n_att].astype(np.int64), "req": tbl.req[:n_att].copy(),
                    "k": tbl.k[:n_att].astype(np.int64), "send": tbl.send[:n_att].copy(), "response": resp,
                    "outcome": outc}
    def by_class(log: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
        c = np.concatenate([x[0] for x in log]) if log else np.zeros(0, np.int16)
        r = np.concatenate([x[1] for x in log]) if log else np.zeros(0, np.int64)
        return tuple(np.sort(r[c == ci]) for ci in range(n_cls))
    return ClientResult(
        minutes, tuple(c.name for c in classes), acc.hist, acc.offered, acc.first, acc.retries, acc.goodput,
        acc.timeouts, acc.shed, acc.failed, queue, acc.busy, st["deferred"], attempts, by_class(failed_log),
        by_class(answered_log), {s: acc.q_in[s][1:].copy() for s in order},
    )


def reference(
    classes: Sequence[RequestClass],
    stations: dict[str, tuple[int, Distribution]],
    horizon: float,
    *,
    rng: np.random.Generator,
    shed_after: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The same model, one SimPy process per attempt through :class:`Station` (small runs, tests).

    Returns per-attempt arrays like ``simulate(..., keep=True).attempts``, sorted by
    (class, request, attempt)."""
    shed_after = shed_after or {}
    if any(c.policy.budget is not None for c in classes):
        raise ValueError("reference: retry budgets are modelled by simulate() only")
    env = simpy.Environment()
    st = {n: Station(env, c, d, rng=rng, name=n) for n, (c, d) in stations.items()}
    rows: list[tuple[int, int, int, float, float, int]] = []

    def attempt(ci: int, req: int, k: int, send: float, result: simpy.Event):
        c = classes[ci]
        hop = float(c.hop_of(np.array([req]))[0]) if np.ndim(c.hop) else c.hop
        yield env.timeout(hop)
        first = int(c.first_stage_of(np.array([req]))[0])
        for sg in range(first, len(c.route)):
            sname = c.route[sg]
            s = float(c.service_table[req, k, sg]) if c.service_table is not None else None
            idx = yield from st[sname].visit(s, shed_after.get(sname))
            if st[sname]._reneged[idx]:
                yield env.timeout(hop)
                rows_resp[(ci, req, k)] = env.now - send
                if not result.triggered:
                    result.succeed(("shed", env.now))
                return
            if sg in c.gates and sg + 1 < len(c.route) and (env.now + hop) - send > c.timeout:
                return  # the client has given up: the server goes no further (and never answers)
        yield env.timeout(hop)
        if not result.triggered:
            result.succeed(("ok", env.now))
        rows_resp[(ci, req, k)] = env.now - send

    rows_resp: dict[tuple[int, int, int], float] = {}

    def client(ci: int, req: int, t: float):
        c = classes[ci]
        limit = int(c.retries_of(np.array([req]))[0])
        yield env.timeout(t - env.now)
        for k in range(limit + 1):
            send = env.now
            if send >= horizon:
                return
            result = env.event()
            env.process(attempt(ci, req, k, send, result))
            clock = env.timeout(c.timeout)
            got = yield result | clock
            if result in got and result.value[0] == "ok" and env.now - send <= c.timeout:
                rows.append((ci, req, k, send, env.now - send, OK))
                return
            if result in got and result.value[0] == "shed":
                rows.append((ci, req, k, send, env.now - send, SHED))
                known = env.now
            else:
                rows.append((ci, req, k, send, math.nan, TIMEOUT))
                known = env.now
            if k == limit:
                return
            u = (np.array([c.jitter_table[req, k + 1]]) if c.jitter_table is not None else rng.random(1))
            d = float(c.policy.delay(np.array([k + 1]), u)[0])
            yield env.timeout(known + d - env.now)

    for ci, c in enumerate(classes):
        for req, t in enumerate(c.sends.tolist()):
            env.process(client(ci, req, t))
    env.run()  # clients stop sending at the horizon; the servers finish what is queued
    rows.sort(key=lambda r: r[:3])
    out = {k: np.array([r[i] for r in rows]) for i, k in enumerate(("cls", "req", "k", "send", "response",
                                                                        "outcome"))}
    # timed-out attempts: the response the server eventually gave (inf if never)
    for i, (ci, req, k) in enumerate(zip(out["cls"].tolist(), out["req"].tolist(), out["k"].tolist(), strict=True)):
        if out["outcome"][i] == TIMEOUT:
            out["response"][i] = rows_resp.get((ci, req, k), math.inf)
    return out


__all__ = ["BIN_EDGES", "MAX_RETRIES", "ClientResult", "RequestClass", "RetryPolicy", "hist_quantile", "reference",
           "simulate"]
