"""The payout followed household by household through the real services, in SimPy, partitioned by municipality.

A sample of households (e.g. 1:100) is loaded into resident registries (住民基本台帳); heads with a
registered public-benefit account get it registered (公金受取口座). Then the same household plans as
the aggregate fidelity play out as events: each day's applications reach the payout ledger as one
intake file (:meth:`PayoutLedger.submit_many`, every form under its idempotency key; some clients
retry with the same key, some households send duplicates under new keys); online applications are
signed by the applicant's emulated My Number card and the ledger's intake checks the signature with
real RSA (:class:`~twin.services.payout.signatures.SignatureCheck`: a sample, or all); every town hall
spends its staff minutes on its in-tray oldest first on business days and the day's checks against
the register go to the ledger as one batch (:meth:`PayoutLedger.verify_many`); forms with errors (a
member missing, a holder name that does not match, a malformed account, the wrong person applying, a
signature that does not verify) come back for correction and are resubmitted; transfer batches are
cut, sent and answered by the bank (a few bounce and go back to the household). The ledger's
invariants are checked every simulated day and in full at the end: nobody is paid twice, money is
conserved.

**Partitions.** A municipality's register and ledger do not depend on another's, so the run is split
by municipality into partitions (``agent.partitions``; 0: about 25,000 sampled households each),
each with its own registry, ledger and random stream (derived from the run's seed, the option and the
partition number). Partitions run on the experiments executor (:mod:`twin.experiments.partitions`:
in this process, local processes, or a Dask cluster) and are merged in partition order, so the result
is the same bytes wherever they ran. Each partition checks its ledger's invariants; the merge checks
them nationally (:func:`check_national`). :func:`simulate_agent` splits a nation already built (tests, small
runs); ``twin run`` never builds it in the main process: it plans the partitions from the nation's layout
and each partition rebuilds its own households, byte for byte the same inputs (:mod:`twin.models.payout.planned`).

**Town halls.** The agent tier runs the same town halls as the aggregate tier (``plan.halls``, drawn
once by :func:`~twin.models.payout.municipalities.town_halls`) through the same rule functions: a town
hall's staff minutes per day are :func:`~twin.models.payout.municipalities.capacity_minutes` of
:func:`~twin.models.payout.municipalities.staffing` (own staff from its first application, outsourced
data entry ramping up from its mail-out, Japanese business days), and its transfers leave on
:func:`~twin.models.payout.municipalities.next_transfer` (its own transfer weekdays, once its payment
system is ready). The households' decisions are the plan both tiers read
(:func:`~twin.models.payout.behaviour.plan_households`).

Staff minutes follow the sample (a town hall of 3 sampled households has 1/1000 of its real staff):
while work waits, minutes are carried to the next day; a job is done once half its minutes are worked
(rounding to the nearest whole job, where the aggregate's fluid in-tray has on average done it) and
the rest is owed; unused minutes are lost when the in-tray is empty. So throughput matches the
aggregate's in-tray and a small sampled town hall is neither faster nor slower than its real
counterpart on average.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import multiprocessing
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from twin.models.payout.aggregate import (
    J_DUP,
    J_MAIL,
    J_ONLINE,
    J_RE_MAIL,
    J_RE_ONLINE,
    AggregateResult,
    PaymentCalendar,
)
from twin.models.payout.behaviour import MAIL, NEVER, ONLINE, PUSH, Households, Municipalities, Plan
from twin.models.payout.municipalities import (
    TownHalls,
    capacity_minutes,
    correction_return_share,
    error_rates,
    job_minutes,
    next_transfer,
    staffing,
    working_days,
)
from twin.models.payout.params import MUNICIPALITY_TYPES, Params
from twin.population import Nation
from twin.services.accounts import AccountType, BankAccount, PublicBenefitAccounts
from twin.services.jpki.errors import UnderageError
from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    BankReason,
    Channel,
    EntitlementRoll,
    InvariantViolation,
    Outcome,
    PayoutLedger,
    Programme,
    Reason,
    SignatureCheck,
)
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore, bulk

#: how the errors found in applications are made (assumed shares); all are sent back for correction
ERROR_KINDS = ("member_missing", "holder_mismatch", "bad_account", "not_head")
ERROR_SHARES = np.array([0.4, 0.3, 0.2, 0.1])
WRONG_HOLDERS = ("ヤマダ\u3000タロウ", "スズキ\u3000ハナコ")
#: decisions a household reacts to by correcting and resubmitting
CORRECTABLE = {
    Reason.MEMBER_MISMATCH,
    Reason.HOLDER_MISMATCH,
    Reason.BAD_ACCOUNT,
    Reason.NOT_HEAD,
    Reason.NO_ACCOUNT,
    Reason.SIGNATURE_INVALID,
}
#: sampled households per partition when ``agent.partitions`` is 0
HOUSEHOLDS_PER_PARTITION = 25_000


@dataclass
class Job:
    """One envelope in a town hall's in-tray."""

    household: int
    job_class: int
    decision: object  # twin.services.payout.Decision
    arrived: int  # day index


@dataclass
class AgentWorld:
    """The services with one partition's sample loaded."""

    store: MemoryStore
    registry: ResidentRegistry
    accounts: PublicBenefitAccounts
    roll: EntitlementRoll
    ledger: PayoutLedger
    reading: list[str]
    check: SignatureCheck | None = None
    counters: dict[str, int] = field(default_factory=dict)


# -- partitions --------------------------------------------------------------------------------------


def partition_municipalities(households: np.ndarray, n_parts: int) -> list[np.ndarray]:
    """Split municipalities (by their sampled household counts) into ``n_parts`` groups of similar size.

    Greedy: largest municipality first into the lightest group (ties: lowest group number); each
    group's municipalities in ascending order. Deterministic: depends only on the counts.
    """
    return [np.array(sorted(g), dtype=np.int64) for g in _greedy(households, n_parts)]


def _greedy(sizes: np.ndarray, n_parts: int) -> list[list[int]]:
    """Items (by size) into ``n_parts`` groups: largest first into the lightest group (ties: lowest group
    number, then lowest item); empty items and empty groups left out."""
    n_parts = max(1, min(int(n_parts), int(np.count_nonzero(sizes)) or 1))
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    load = np.zeros(n_parts, dtype=np.int64)
    groups: list[list[int]] = [[] for _ in range(n_parts)]
    for m in order.tolist():
        if sizes[m] == 0:
            continue
        g = int(np.argmin(load))
        groups[g].append(m)
        load[g] += sizes[m]
    return [g for g in groups if g]


def municipality_sections(hh_municipality: np.ndarray, n_municipalities: int, split_above: int) -> np.ndarray:
    """The section of every household: its municipality, or for a municipality with more than ``split_above``
    sampled households, one of ``ceil(n / split_above)`` sections of consecutive households (in row order) of
    near-equal size. Sections are numbered municipality by municipality; an unsplit municipality is one section.
    Deterministic: depends only on the households' municipalities."""
    counts = np.bincount(hh_municipality, minlength=n_municipalities).astype(np.int64)
    k = np.ones(n_municipalities, dtype=np.int64)
    if split_above > 0:
        k = np.maximum(1, -(-counts // split_above))
    first = np.concatenate(([0], np.cumsum(k)[:-1]))
    order = np.argsort(hh_municipality, kind="stable")
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(hh_municipality), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start[hh_municipality[order]]
    n = np.maximum(counts, 1)[hh_municipality]
    return first[hh_municipality] + rank * k[hh_municipality] // n


def n_partitions(params: Params, households: int) -> int:
    return params.agent.partitions or max(1, -(-households // HOUSEHOLDS_PER_PARTITION))


@dataclass
class PartitionInput:
    """Everything one partition needs (picklable: shipped to a worker process or a Dask worker)."""

    index: int
    option: str
    municipalities: np.ndarray  # rows of the national municipality table, ascending
    mun_code: np.ndarray
    mun_type: np.ndarray
    mun_households: np.ndarray
    res_municipality: np.ndarray  # municipality code per resident
    res_age: np.ndarray
    res_sex: np.ndarray
    res_household: np.ndarray  # local household id
    res_is_head: np.ndarray
    hh_municipality: np.ndarray  # local municipality row per household
    hh_head_age: np.ndarray
    route: np.ndarray
    arrival_day: np.ndarray
    extra_online: np.ndarray
    dup_mail_day: np.ndarray
    params: Params
    cal: PaymentCalendar
    day0: dt.date
    seed: tuple[int, ...]  # entropy and spawn key of the partition's random stream
    halls: TownHalls  # the partition's town halls (rows of plan.halls): capacity and transfer days

    def cache_key(self) -> str:
        """A digest of everything the partition's result depends on, the same in every process."""
        h = hashlib.sha256()
        for f in dataclasses.fields(self):
            digest_field(h, f.name, getattr(self, f.name))
        return h.hexdigest()


def digest_field(h: Any, name: str, v: Any) -> None:  # noqa: ANN401 - hashlib's hash, any field
    """One field of a partition's inputs into its cache digest ``h``, as the same bytes in every process
    (:meth:`PartitionInput.cache_key`, and the planned partitions' :meth:`PartitionSpec.cache_key`)."""
    if name == "halls":
        for g in dataclasses.fields(v):
            h.update(np.ascontiguousarray(getattr(v, g.name)).tobytes())
    elif isinstance(v, np.ndarray):
        h.update(f"{name}:{v.dtype}:{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
    elif name == "params":
        h.update(v.model_dump_json().encode())
    elif name == "cal":
        h.update(b"business:" + np.ascontiguousarray(v.business).tobytes())
    else:
        h.update(f"{name}={v!r}".encode())


@dataclass
class PartitionResult:
    index: int
    municipalities: np.ndarray
    result: AggregateResult
    counts: dict[str, int]
    households: int
    seconds: float
    peak_rss_bytes: int
    cpu_seconds: float = 0.0
    own_peak: bool = False  # peak_rss_bytes is this partition's own (a worker's mark reset at its start)


def split(
    nation: Nation,
    hh: Households,
    mun: Municipalities,
    plan: Plan,
    params: Params,
    cal: PaymentCalendar,
    day0: dt.date,
    option: str,
    seed: tuple[int, ...],
) -> list[PartitionInput]:
    """The run's partitions: municipality groups with their residents, households and plans."""
    res = nation.residents
    # sections: whole municipalities, except a large one, which is worked in sections (agent.split_above)
    section = municipality_sections(hh.municipality, len(mun), params.agent.split_above)
    sizes = np.bincount(section).astype(np.int64)
    groups = _greedy(sizes, n_partitions(params, len(hh)))
    group_of = np.full(len(sizes), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        group_of[g] = i
    hh_group = group_of[section]
    hh_of_res = res.household
    # households and residents sorted by partition once (stable: ascending rows within each), then sliced: a
    # mask over the nation per partition would cost partitions x households (2,300 x 57.6M at 1:1)
    order_hh = np.argsort(hh_group, kind="stable")
    hh_end = np.cumsum(np.bincount(hh_group, minlength=len(groups)))
    res_group = hh_group[hh_of_res]
    order_res = np.argsort(res_group, kind="stable")
    res_end = np.cumsum(np.bincount(res_group, minlength=len(groups)))
    out = []
    for i in range(len(groups)):
        rows = order_hh[(hh_end[i - 1] if i else 0) : hh_end[i]]  # households, ascending
        ms = np.unique(hh.municipality[rows])  # ascending
        rres = order_res[(res_end[i - 1] if i else 0) : res_end[i]]  # residents, ascending
        local_mun = np.full(len(mun), -1, dtype=np.int64)
        local_mun[ms] = np.arange(len(ms))
        out.append(
            PartitionInput(
                index=i,
                option=option,
                municipalities=ms,
                mun_code=mun.code[ms],
                mun_type=mun.type_index[ms],
                mun_households=np.bincount(local_mun[hh.municipality[rows]], minlength=len(ms)).astype(
                    mun.households.dtype
                ),  # the partition's share of each municipality's households (all of it, unless split)
                res_municipality=mun.code[res.municipality[rres]],
                res_age=res.age[rres],
                res_sex=res.sex[rres],
                res_household=np.searchsorted(rows, hh_of_res[rres]),  # local household number
                res_is_head=res.is_head[rres],
                hh_municipality=local_mun[hh.municipality[rows]],
                hh_head_age=hh.head_age[rows],
                route=plan.route[rows],
                arrival_day=plan.arrival_day[rows],
                extra_online=plan.extra_online[rows],
                dup_mail_day=plan.dup_mail_day[rows],
                params=params,
                cal=cal,
                day0=day0,
                seed=(*seed, i),
                halls=TownHalls(**{f.name: getattr(plan.halls, f.name)[ms] for f in dataclasses.fields(TownHalls)}),
            )
        )
    return out


def simulate_agent(
    nation: Nation,
    hh: Households,
    mun: Municipalities,
    plan: Plan,
    params: Params,
    cal: PaymentCalendar,
    day0: dt.date,
    seed: tuple[int, ...] | np.random.Generator,
    *,
    option: str = "",
    executor: Any = None,
    cache: Path | None = None,
) -> tuple[AggregateResult, dict[str, Any]]:
    """Run one option through the services, partition by partition; returns the same per-day outcomes as
    the aggregate fidelity (in sample units) and the ledgers' decision counts (summed over partitions).

    ``seed`` is the root of the partitions' streams (a tuple of ints, e.g. ``(run seed, stream key,
    replication)``; a Generator is turned into one); ``executor`` runs the partitions (default: the
    current one of :mod:`twin.experiments.partitions`, else this process); ``cache`` is a folder for
    finished partitions (``twin run`` passes the run's: a rerun after an interruption resumes).
    """
    from twin.experiments.partitions import run_partitions

    if isinstance(seed, np.random.Generator):
        seed = tuple(int(x) for x in seed.integers(0, 2**32, 2))
    if plan.halls is None:
        raise ValueError("simulate_agent: the plan has no town halls (plan_households draws them)")
    inputs = split(nation, hh, mun, plan, params, cal, day0, option, seed)
    parts = run_partitions(
        run_partition, inputs, executor=executor, what=f"payout {option or 'agent'} partition", cache=cache
    )
    return merge(parts, len(mun), len(hh), int((plan.route == NEVER).sum()), params, cal)


def merge(
    parts: list[PartitionResult],
    municipalities: int,
    households: int,
    never_applied: int,
    params: Params,
    cal: PaymentCalendar,
) -> tuple[AggregateResult, dict[str, Any]]:
    """Add the partitions' outcomes up (in partition order: the same bytes wherever they ran) and check
    the invariants nationally (the run's ``households``, of which ``never_applied`` never apply)."""
    h, m = cal.horizon, municipalities
    first = parts[0].result
    backlog = np.zeros((m, h), dtype=first.backlog.dtype)
    staff = np.zeros(m)
    for p in parts:  # a municipality worked in sections adds up its sections' in-trays and staff minutes
        backlog[p.municipalities] += p.result.backlog
        staff[p.municipalities] += p.result.staff_minutes
    total = {
        name: sum((getattr(p.result, name) for p in parts[1:]), getattr(first, name).copy())
        for name in ("paid_households", "paid_persons", "paid_by_route", "arrivals", "served", "errors_returned",
                     "bank_rejected", "waiting_days", "entitled_households", "entitled_persons")
    }  # fmt: skip
    counts: dict[str, int] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0) + int(v)
    counts = dict(sorted(counts.items()))
    stats = [
        {"partition": p.index, "municipalities": len(p.municipalities), "households": p.households,
         "seconds": round(p.seconds, 2), "peak_rss_mib": round(p.peak_rss_bytes / 2**20, 1),
         "cpu_seconds": round(p.cpu_seconds, 2), "own_peak": p.own_peak}
        for p in parts
    ]  # fmt: skip
    extra = {"never_applied": float(never_applied), "partitions": stats}
    result = AggregateResult(horizon=h, backlog=backlog, staff_minutes=staff, extra=extra, **total)
    check_national(parts, result, counts, households, params)
    return result, counts


def check_national(
    parts: list[PartitionResult], result: AggregateResult, counts: dict[str, int], households: int, params: Params
) -> None:
    """The invariants across partitions: every household in exactly one partition, paid at most once,
    money conserved (paid = entitlement of the paid), the merged day grids equal to the ledgers' books."""
    seen = np.concatenate([p.municipalities for p in parts])
    if len(np.unique(seen)) != len(seen) and params.agent.split_above == 0:
        raise InvariantViolation("a municipality is in two partitions, and agent.split_above is 0 (never split)")
    if sum(p.households for p in parts) != households:
        raise InvariantViolation(f"partitions hold {sum(p.households for p in parts):,} households, not {households:,}")
    paid = int(result.paid_households.sum())
    if paid != counts["paid_households"] or paid > households:
        raise InvariantViolation(f"paid households: day grids {paid:,}, ledgers {counts['paid_households']:,}")
    if counts["paid_amount_yen"] != counts["paid_entitlement_yen"]:
        raise InvariantViolation("paid amount differs from the entitlement of the paid households")
    if counts["paid_amount_yen"] != int(result.paid_persons.sum()) * params.amount_per_resident:
        raise InvariantViolation("paid amount differs from 100,000 yen per person of the paid households")


def run_partition(inp: Any) -> PartitionResult:  # noqa: ANN401 - a PartitionInput or a planned.PartitionSpec
    """One partition, start to end (top-level and picklable: what the executor ships to a worker). Given a
    :class:`~twin.models.payout.planned.PartitionSpec`, it first rebuilds the partition's households and
    plan here, in the worker; its time and peak memory include that."""
    from twin.runs import peak_rss_bytes, reset_peak_rss

    # in a worker process, the partition's own peak (a fresh high-water mark); in the main process (one
    # partition, or an in-process executor) the mark is the run's and is left alone: the process's peak so far
    own_peak = multiprocessing.parent_process() is not None and reset_peak_rss()
    t0, c0 = time.perf_counter(), time.process_time()
    if not isinstance(inp, PartitionInput):  # its households are rebuilt here, not shipped (planned.py)
        from twin.models.payout.planned import materialize

        inp = materialize(inp)
    # The ledger's store grows by about ten records per household, none of them in reference cycles: with
    # the default threshold the young-generation collections (every 700 allocations) cost about a fifth
    # of the partition's CPU. Collected less often (store.bulk), not switched off.
    with bulk():
        result, counts = _simulate_partition(inp)
    rss = peak_rss_bytes()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return PartitionResult(inp.index, inp.municipalities, result, counts, len(inp.route), wall, rss, cpu, own_peak)


def _account_for(rng: np.random.Generator, holder: str) -> BankAccount:
    bank = f"{int(rng.integers(1, 9999)):04d}"
    branch = f"{int(rng.integers(1, 999)):03d}"
    number = f"{int(rng.integers(0, 10**7)):07d}"
    return BankAccount(bank, branch, AccountType.ORDINARY, number, holder)


def build_world(inp: PartitionInput, horizon: int, rng: np.random.Generator) -> AgentWorld:
    """Load the partition's sample into a fresh registry, register push heads' accounts, open the ledger."""
    params, day0 = inp.params, inp.day0
    store = MemoryStore()
    registry = ResidentRegistry.load(
        store,
        as_of=params.reference_date,
        municipality=inp.res_municipality,
        age=inp.res_age,
        sex=inp.res_sex,
        household=inp.res_household,
        is_head=inp.res_is_head,
        rng=rng,
        sex_codes=(0, 1),
    )
    channels = {Channel.MAIL, Channel.ONLINE} | ({Channel.PUSH} if params.channels.push else set())
    programme = Programme(
        name="special_cash_payment",
        reference_date=params.reference_date,
        amount_per_resident=params.amount_per_resident,
        channels=frozenset(channels),
        opens=day0,
        closes=day0 + dt.timedelta(days=horizon),
        opt_out_days=int(round(params.push.opt_out_days)),
    )
    accounts = PublicBenefitAccounts(store, registry.reading)
    roll = EntitlementRoll.from_registry(registry, programme)
    reading = registry.readings(roll.head[: len(inp.route)])
    pushed = np.flatnonzero(inp.route == PUSH)
    if len(pushed):
        accounts.register_many(
            [(int(roll.head[h]), _account_for(rng, reading[h])) for h in pushed], effective=params.reference_date
        )
    a = params.agent
    check = None
    if params.channels.online:
        from twin.models.payout.cards import ApplicantCards

        cards = ApplicantCards(registry, params.reference_date)
        share = 1.0 if a.signature_check == "all" else a.signature_sample
        check = SignatureCheck(cards.issuer, sample=share, salt=f"{inp.option}")
        check.cards = cards  # type: ignore[attr-defined]
    ledger = PayoutLedger(store, programme, roll, accounts=accounts, verify_signature=check)
    return AgentWorld(store, registry, accounts, roll, ledger, reading, check)


def _simulate_partition(inp: PartitionInput) -> tuple[AggregateResult, dict[str, int]]:
    params, cal, day0 = inp.params, inp.cal, inp.day0
    h, m, n = cal.horizon, len(inp.municipalities), len(inp.route)
    v, dis = params.verification, params.disbursement
    rng = np.random.default_rng(np.random.SeedSequence(inp.seed[0], spawn_key=tuple(inp.seed[1:])))
    world = build_world(inp, h, rng)
    ledger, roll, check = world.ledger, world.roll, world.check
    cards = getattr(check, "cards", None)
    heads = roll.head[:n].tolist()
    gc.freeze()  # the registry is long-lived: keep the collector off it

    minutes, err = job_minutes(params), error_rates(params)  # the aggregate's rules (municipalities.py)
    halls = inp.halls
    full_staff = staffing(params, inp.mun_type, inp.mun_households, halls)  # the aggregate's rule, per town hall
    workday = working_days(params, cal.business)
    back_share = correction_return_share(params)  # daily return share: a geometric delay per household
    bad_share = params.agent.bad_signature_share
    dates = [day0 + dt.timedelta(days=d) for d in range(h)]

    env = simpy.Environment()
    trays: list[deque[Job]] = [deque() for _ in range(m)]
    first_work = np.full(m, h, dtype=np.int64)
    attempts = np.zeros(n, dtype=np.int32)
    hh_mun = inp.hh_municipality.tolist()
    route = inp.route

    arrivals = np.zeros((5, h))
    served_by_class = np.zeros((5, h))
    errors_returned = np.zeros(h)
    bank_rejected = np.zeros(h)
    backlog = np.zeros((m, h), dtype=np.float32)
    staff_minutes = np.zeros(m)
    waiting_days = np.zeros(h)
    paid_day = np.full(n, -1, dtype=np.int64)
    route_paid = np.full(n, -1, dtype=np.int8)
    counters = world.counters

    # every household's own bank account (in the head's name), drawn at once; errors are made on the form
    acct_bank = rng.integers(1, 9999, n).tolist()
    acct_branch = rng.integers(1, 999, n).tolist()
    acct_number = rng.integers(0, 10**7, n).tolist()
    accounts_of: dict[int, BankAccount] = {}

    def own_account(household: int) -> BankAccount:
        a = accounts_of.get(household)
        if a is None:
            a = accounts_of[household] = BankAccount(
                f"{acct_bank[household]:04d}", f"{acct_branch[household]:03d}", AccountType.ORDINARY,
                f"{acct_number[household]:07d}", world.reading[household],
            )  # fmt: skip
        return a

    def bump(name: str, k: int = 1) -> None:
        counters[name] = counters.get(name, 0) + k

    def application(household: int, channel: Channel, job_class: int, u_err: float, u_alt: float) -> Application:
        """The form as the household fills it in, with an error with the class's error rate; an online
        form is signed by the applicant's card when the ledger will check it (a few are altered after)."""
        head = heads[household]
        members = roll.members(household)
        account = own_account(household)
        applicant = head
        if u_err < err[job_class]:
            kind = ERROR_KINDS[int(rng.choice(len(ERROR_KINDS), p=ERROR_SHARES))]
            if kind == "member_missing" and len(members) > 1:
                members = members[:-1]
            elif kind in ("member_missing", "holder_mismatch"):  # the account in someone else's name
                other = WRONG_HOLDERS[0] if account.holder != WRONG_HOLDERS[0] else WRONG_HOLDERS[1]
                account = dataclasses.replace(account, holder=other)
            elif kind == "bad_account":  # a five-digit account number
                account = dataclasses.replace(account, number="12345")
            elif kind == "not_head":
                others = [r for r in members if r != head]
                applicant = others[0] if others else head + 10**9  # not a resident at all
        app = Application(household, applicant, channel, account, tuple(members))
        if channel is Channel.ONLINE and check is not None:
            altered = u_alt < bad_share
            if check.selected(app):
                signed = False
                if 0 <= applicant < len(world.registry):
                    try:
                        app = cards.sign(app)  # type: ignore[union-attr]
                        bump("cards:signatures")
                        signed = True
                    except UnderageError:  # a child sent it (a form error): no signature certificate before 15
                        bump("cards:underage")  # the form goes unsigned and is refused as unsigned
                if altered and signed:  # changed after the card signed it: the signature no longer matches
                    app = dataclasses.replace(app, account=dataclasses.replace(app.account, number="7777777"))  # type: ignore[arg-type]
                    bump("signature:altered_checked")
            elif altered:
                bump("signature:altered_unchecked")  # what the sample lets through
        return app

    # ---- households: submissions by day (the plan says when; corrections are added as they come back)
    intake: list[list[tuple[int, Channel, int, bool]]] = [[] for _ in range(h + 1)]
    for household in np.flatnonzero((route == MAIL) | (route == ONLINE)).tolist():
        day = int(np.floor(inp.arrival_day[household]))
        if day >= h:
            continue
        if route[household] == ONLINE:
            intake[day].append((household, Channel.ONLINE, J_ONLINE, False))
            for _ in range(int(inp.extra_online[household])):
                intake[day].append((household, Channel.ONLINE, J_ONLINE, True))
            if np.isfinite(inp.dup_mail_day[household]):
                dd = int(np.floor(inp.dup_mail_day[household]))
                if dd < h:
                    intake[dd].append((household, Channel.MAIL, J_MAIL, True))
        else:
            intake[day].append((household, Channel.MAIL, J_MAIL, False))

    def resubmit(household: int, day: int) -> None:
        """The household corrects its form and sends it again after the correction delay."""
        back = day + int(rng.geometric(back_share))
        if back >= h:
            return
        if route[household] == ONLINE:
            intake[back].append((household, Channel.ONLINE, J_RE_ONLINE, False))
        else:
            intake[back].append((household, Channel.MAIL, J_RE_MAIL, False))

    def post_office():  # noqa: ANN202
        """At 06:00 each day, the day's forms reach the ledger as one intake file."""
        for d in range(h):
            yield env.timeout(d + 0.25 - env.now)
            todays = intake[d]
            intake[d] = []
            if not todays:
                continue
            items, jobs = [], []
            draws = rng.random((len(todays), 3)).tolist()  # error, alteration, client retry
            for (household, channel, cls, duplicate), (u_err, u_alt, u_retry) in zip(todays, draws, strict=True):
                attempts[household] += 1
                key = f"h{household}-a{attempts[household]}"
                app = application(household, channel, J_DUP if duplicate else cls, u_err, u_alt)
                items.append((app, key))
                jobs.append((household, J_DUP if duplicate else cls))
                if channel is Channel.ONLINE and u_retry < 0.05:  # a client retry after a timeout
                    items.append((app, key))
                    jobs.append((household, -1))
                    bump("client_retries")
            decisions = ledger.submit_many(items, dates[d])
            for (household, cls), dec, (_, key) in zip(jobs, decisions, items, strict=True):
                if cls < 0:  # the retry: the same key gets the first answer back
                    if dec != last[key]:
                        raise InvariantViolation(f"idempotency key {key}: a retry got another answer")
                    continue
                last[key] = dec
                mm = hh_mun[household]
                trays[mm].append(Job(household, cls, dec, d))
                arrivals[cls, d] += 1
                if first_work[mm] > d:
                    first_work[mm] = d
            last.clear()

    last: dict[str, object] = {}

    # ---- push: notices, then release after the opt-out window
    if params.channels.push:
        pushed = np.flatnonzero(route == PUSH)
        notice = (params.push.notice_date - day0).days
        if len(pushed) and 0 <= notice < h:

            def push():  # noqa: ANN202
                yield env.timeout(notice + 0.1)
                ledger.notify_push(dates[notice], households=pushed.tolist())
                release = notice + int(round(params.push.opt_out_days)) + 1
                if release < h:
                    yield env.timeout(release + 0.3 - env.now)
                    ledger.release_push(dates[release])

            env.process(push())

    # ---- town halls: at noon each works its in-tray; the day's checks go to the ledger as one batch
    credit = np.zeros(m)

    def town_halls():  # noqa: ANN202
        for d in range(h):
            yield env.timeout(d + 0.5 - env.now)
            if not workday[d]:
                continue
            # each town hall's staff minutes today, by the aggregate's rule (municipalities.capacity_minutes:
            # own staff from its first application, outsourced data entry ramping up from its mail-out)
            cap = capacity_minutes(halls, full_staff, workday, first_work, v.in_house_share, v.outsourcing_ramp_days, d)
            done: list[Job] = []
            for mm in np.flatnonzero(cap > 0).tolist():
                tray = trays[mm]
                if not tray and credit[mm] >= 0:
                    continue
                credit[mm] += cap[mm]  # (with an empty in-tray, only what is owed on the last job is worked off)
                # a job is done once half its minutes are worked (rounded to the nearest whole job: the
                # fluid in-tray's mass of a job is on average done then); the rest is owed (credit < 0)
                while tray and credit[mm] >= 0.5 * minutes[tray[0].job_class]:
                    job = tray.popleft()
                    credit[mm] -= minutes[job.job_class]
                    staff_minutes[mm] += minutes[job.job_class]
                    served_by_class[job.job_class, d] += 1
                    waiting_days[d - job.arrived] += 1
                    done.append(job)
                if not tray:
                    credit[mm] = min(credit[mm], 0.0)  # minutes not used today are lost, as in the aggregate's in-tray
            to_verify = [j for j in done if j.job_class != J_DUP and j.decision.outcome is not Outcome.REJECTED]
            results = iter(ledger.verify_many([j.decision.application for j in to_verify], dates[d]))
            for job in done:
                dec = job.decision
                if job.job_class == J_DUP:
                    continue  # found to be a duplicate (or, rarely, it became the household's application)
                if dec.outcome is Outcome.REJECTED:
                    if dec.reason in CORRECTABLE:
                        errors_returned[d] += 1
                        resubmit(job.household, d)
                    continue
                result = next(results)
                if result.outcome is Outcome.RETURNED or (
                    result.outcome is Outcome.REJECTED and result.reason in CORRECTABLE
                ):
                    errors_returned[d] += 1
                    resubmit(job.household, d)

    # ---- the bank: every business-day evening the day's verified households go out in one payment file
    # (a ledger batch); each town hall's transfers leave on its own transfer day (the first on or after
    # the file is prepared, once its payment system is ready: municipalities.next_transfer, the
    # aggregate's rule) and the bank answers ``lag`` business days later
    nxt = next_transfer(halls, cal.business, day0.weekday())
    prepared = cal.add_business_days(np.arange(h), dis.preparation_business_days)
    answers_on: dict[int, dict[int, list]] = {}  # answer day -> batch id -> transfers

    def cash_days(d: int) -> list[int]:
        """The day the bank answers a transfer of each town hall's households put in a batch on day ``d``."""
        if prepared[d] >= h:
            return [h] * m
        pay = nxt[:, prepared[d]]
        out = np.full(m, h, dtype=np.int64)
        ok = pay < h
        out[ok] = cal.add_business_days(pay[ok], dis.bank_lag_business_days)
        return out.tolist()

    def bank():  # noqa: ANN202
        for d in range(h):
            yield env.timeout(d + 0.75 - env.now)
            if cal.business[d]:
                batch = ledger.make_batch(dates[d], business_day=True)
                if batch is not None:
                    cash = cash_days(d)
                    for t in batch.transfers:
                        answers_on.setdefault(cash[hh_mun[t.household]], {}).setdefault(batch.id, []).append(t)
            for batch_id, transfers in sorted(answers_on.pop(d, {}).items()):
                answers = []
                bounced_all = rng.random(len(transfers)) < dis.bank_reject_rate
                for t, bounced in zip(transfers, bounced_all.tolist(), strict=True):
                    answers.append(
                        BankConfirmation(
                            t.household,
                            BankOutcome.REJECTED if bounced else BankOutcome.CONFIRMED,
                            t.amount,
                            BankReason.ACCOUNT_CLOSED if bounced else BankReason.NONE,
                        )
                    )
                    if bounced:
                        bank_rejected[d] += 1
                        resubmit(t.household, d)
                    else:
                        paid_day[t.household] = d
                report = ledger.record_bank_results(batch_id, answers, dates[d])
                if report.duplicates or report.conflicts or report.unexpected:
                    raise InvariantViolation(f"bank reconciliation of batch {batch_id}: {report}")
            for mm in range(m):
                backlog[mm, d] = len(trays[mm])
            ledger.check_invariants()

    env.process(post_office())
    env.process(town_halls())
    env.process(bank())
    env.run(until=h)
    ledger.check_invariants(full=True)
    gc.unfreeze()

    paid = paid_day >= 0
    route_paid[paid] = route[paid]
    t = inp.mun_type[inp.hh_municipality]
    persons = roll.amount[:n] // params.amount_per_resident
    n_types = len(MUNICIPALITY_TYPES)
    paid_households = np.zeros((n_types, h))
    paid_persons = np.zeros((n_types, h))
    np.add.at(paid_households, (t[paid], paid_day[paid]), 1)
    np.add.at(paid_persons, (t[paid], paid_day[paid]), persons[paid])
    paid_by_route = np.zeros((4, h))
    np.add.at(paid_by_route, (route_paid[paid], paid_day[paid]), 1)
    totals = ledger.totals()
    counts = ledger.counts() | counters
    if check is not None:
        counts |= {f"signature:{k}": v for k, v in check.counts.items()}
        counts["cards:issued"] = cards.issued  # type: ignore[union-attr]
    counts |= {
        "paid_households": int(totals.paid),
        "paid_amount_yen": int(totals.paid_amount),
        "paid_entitlement_yen": int(totals.paid_entitlement),
    }
    result = AggregateResult(
        horizon=h,
        paid_households=paid_households,
        paid_persons=paid_persons,
        paid_by_route=paid_by_route,
        arrivals=arrivals,
        served=served_by_class,
        errors_returned=errors_returned,
        bank_rejected=bank_rejected,
        backlog=backlog,
        staff_minutes=staff_minutes,
        waiting_days=waiting_days,
        entitled_households=np.bincount(t, minlength=n_types).astype(np.float64),
        entitled_persons=np.bincount(t, weights=persons, minlength=n_types),
        extra={},
    )
    return result, counts
