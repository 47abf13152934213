"""The payout followed household by household through the real services, in SimPy.

A sample of households (e.g. 1:1000) is loaded into the resident registry (住民基本台帳); heads
with a registered public-benefit account get it registered (公金受取口座). Then the same household
plans as the aggregate fidelity play out as events: each application is a real submission to the
payout ledger with an idempotency key (some clients retry with the same key; some households send
duplicates under new keys); every town hall is a SimPy process that, on business days, spends its
staff minutes on its in-tray oldest first and has the ledger verify each application against the
register; forms with errors (a member missing, a holder name that does not match, a malformed
account, the wrong person applying) come back for correction and are resubmitted; transfer batches
are cut, sent and answered by the bank (a few bounce and go back to the household). The ledger's
invariants are checked every simulated day and in full at the end: nobody is paid twice, money is
conserved.

Staff minutes follow the sample (a town hall of 3 sampled households has 1/1000 of its real staff):
while work waits, the minutes a sampled town hall does not use up on a whole job are carried to the
next day, and lost when its in-tray is empty, so throughput matches the aggregate's in-tray and a
small sampled town hall is neither faster nor slower than its real counterpart on average.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
from collections import deque
from dataclasses import dataclass, field

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
from twin.models.payout.params import MUNICIPALITY_TYPES, Params
from twin.population import Nation
from twin.services.accounts import AccountType, BankAccount, PublicBenefitAccounts
from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    BankReason,
    Channel,
    EntitlementRoll,
    Outcome,
    PayoutLedger,
    Programme,
    Reason,
)
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore

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
}


@dataclass
class Job:
    """One envelope in a town hall's in-tray."""

    household: int
    job_class: int
    decision: object  # twin.services.payout.Decision
    arrived: int  # day index


@dataclass
class AgentWorld:
    """The services with the sample loaded."""

    store: MemoryStore
    registry: ResidentRegistry
    accounts: PublicBenefitAccounts
    roll: EntitlementRoll
    ledger: PayoutLedger
    reading: list[str]
    counters: dict[str, int] = field(default_factory=dict)


def _account_for(rng: np.random.Generator, holder: str) -> BankAccount:
    bank = f"{int(rng.integers(1, 9999)):04d}"
    branch = f"{int(rng.integers(1, 999)):03d}"
    number = f"{int(rng.integers(0, 10**7)):07d}"
    return BankAccount(bank, branch, AccountType.ORDINARY, number, holder)


def build_world(
    nation: Nation, params: Params, plan: Plan, day0: dt.date, horizon: int, rng: np.random.Generator
) -> AgentWorld:
    """Load the sample into a fresh registry, register push heads' accounts, open the ledger."""
    res = nation.residents
    store = MemoryStore()
    registry = ResidentRegistry.load(
        store,
        as_of=params.reference_date,
        municipality=nation.municipalities.code[res.municipality],
        age=res.age,
        sex=res.sex,
        household=res.household,
        is_head=res.is_head,
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
    heads = nation.households.head
    reading = [registry.reading(int(r)) or "" for r in heads]
    pushed = np.flatnonzero(plan.route == PUSH)
    if len(pushed):
        accounts.register_many(
            [(int(heads[h]), _account_for(rng, reading[h])) for h in pushed],
            effective=params.reference_date,
        )
    ledger = PayoutLedger(store, programme, roll, accounts=accounts)
    return AgentWorld(store, registry, accounts, roll, ledger, reading)


def simulate_agent(
    nation: Nation,
    hh: Households,
    mun: Municipalities,
    plan: Plan,
    params: Params,
    cal: PaymentCalendar,
    day0: dt.date,
    rng: np.random.Generator,
) -> tuple[AggregateResult, dict[str, int]]:
    """Run one option through the services; returns the same per-day outcomes as the aggregate
    fidelity (in sample units) and the ledger's decision counts."""
    h, m = cal.horizon, len(mun)
    v, dis = params.verification, params.disbursement
    world = build_world(nation, params, plan, day0, h, rng)
    ledger, roll = world.ledger, world.roll
    heads = nation.households.head
    gc.freeze()  # the nation and registry are long-lived: keep the collector off them

    automated = v.online_matching == "automated"
    online_minutes = v.minutes_online_automated if automated else v.minutes_online_manual
    minutes = np.array([v.minutes_mail, online_minutes, v.minutes_duplicate, v.minutes_mail, online_minutes])
    err_online = v.error_rate_online_automated if automated else v.error_rate_online
    err = np.array([v.error_rate_mail, err_online, 0.0, v.error_rate_mail, err_online]) * np.array(
        [1, 1, 1, v.resubmission_error_factor, v.resubmission_error_factor]
    )
    by_type = np.array([v.staffing_by_type[t] for t in MUNICIPALITY_TYPES])
    full_staff = mun.households / 1000.0 * v.staff_minutes_per_1000_households * by_type[mun.type_index]
    back_share = 1.0 - np.exp(-1.0 / v.correction_days)
    dates = [day0 + dt.timedelta(days=d) for d in range(h)]

    env = simpy.Environment()
    trays: list[deque[Job]] = [deque() for _ in range(m)]
    first_work = np.full(m, h, dtype=np.int64)
    attempts = np.zeros(len(hh), dtype=np.int32)

    arrivals = np.zeros((5, h))
    served_by_class = np.zeros((5, h))
    errors_returned = np.zeros(h)
    bank_rejected = np.zeros(h)
    backlog = np.zeros((m, h), dtype=np.float32)
    staff_minutes = np.zeros(m)
    waiting_days = np.zeros(h)
    paid_day = np.full(len(hh), -1, dtype=np.int64)
    route_paid = np.full(len(hh), -1, dtype=np.int8)

    def application(household: int, channel: Channel, job_class: int) -> Application:
        """The form as the household fills it in, with an error with the class's error rate."""
        head = int(heads[household])
        members = roll.members(household)
        account = _account_for(rng, world.reading[household])
        applicant = head
        if rng.random() < err[job_class]:
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
        return Application(
            household, applicant, channel, account, tuple(members), signature_verified=channel is Channel.ONLINE
        )

    def submit(household: int, channel: Channel, job_class: int, day: int, duplicate: bool = False) -> None:
        if day >= h:
            return
        attempts[household] += 1
        key = f"h{household}-a{attempts[household]}"
        app = application(household, channel, J_DUP if duplicate else job_class)
        decision = ledger.submit(app, key, dates[day])
        if channel is Channel.ONLINE and rng.random() < 0.05:  # a client retry after a timeout: same key, same form
            again = ledger.submit(app, key, dates[day])
            world.counters["client_retries"] = world.counters.get("client_retries", 0) + 1
            assert again == decision, "a retried submission must get the first answer"
        mm = int(hh.municipality[household])
        cls = J_DUP if duplicate else job_class
        trays[mm].append(Job(household, cls, decision, day))
        arrivals[cls, day] += 1
        first_work[mm] = min(first_work[mm], day)

    def at(day: float, action) -> None:  # noqa: ANN001
        if day < h:
            env.timeout(max(0.0, day - env.now)).callbacks.append(lambda _e: action())

    def resubmit(household: int, day: int) -> None:
        """The household corrects its form and sends it again after the correction delay."""
        back = day + int(rng.geometric(back_share))
        first_channel = ONLINE if plan.route[household] == ONLINE else MAIL
        channel = Channel.ONLINE if first_channel == ONLINE else Channel.MAIL
        cls = J_RE_ONLINE if first_channel == ONLINE else J_RE_MAIL
        at(back + 0.25, lambda: submit(household, channel, cls, back))

    # ---- households: first submissions, duplicates (the plan says when)
    for household in np.flatnonzero((plan.route == MAIL) | (plan.route == ONLINE)):
        day = int(np.floor(plan.arrival_day[household]))
        if plan.route[household] == ONLINE:
            at(
                day + 0.25,
                lambda hh_=int(household), d=day, k=int(plan.extra_online[household]): (
                    submit(hh_, Channel.ONLINE, J_ONLINE, d),
                    [submit(hh_, Channel.ONLINE, J_ONLINE, d, duplicate=True) for _ in range(k)],
                ),
            )
            if np.isfinite(plan.dup_mail_day[household]):
                dd = int(np.floor(plan.dup_mail_day[household]))
                at(dd + 0.25, lambda hh_=int(household), d=dd: submit(hh_, Channel.MAIL, J_MAIL, d, duplicate=True))
        else:
            at(day + 0.25, lambda hh_=int(household), d=day: submit(hh_, Channel.MAIL, J_MAIL, d))

    # ---- push: notices, then release after the opt-out window
    if params.channels.push:
        pushed = np.flatnonzero(plan.route == PUSH)
        notice = (params.push.notice_date - day0).days
        if len(pushed) and 0 <= notice < h:
            at(notice + 0.1, lambda: ledger.notify_push(dates[notice], households=pushed.tolist()))
            release = notice + int(round(params.push.opt_out_days)) + 1
            at(release + 0.3, lambda: ledger.release_push(dates[release]))

    # ---- town halls: one SimPy process each
    def town_hall(mm: int):  # noqa: ANN202
        credit = 0.0
        for d in range(h):
            yield env.timeout(d + 0.5 - env.now)
            if not (cal.business[d] or v.weekend_work) or first_work[mm] > d:
                continue
            since = d - first_work[mm]
            ramp = min(1.0, (since + 1) / (v.ramp_up_days + 1)) if v.ramp_up_days > 0 else 1.0
            credit += full_staff[mm] * ramp
            tray = trays[mm]
            while tray and credit >= minutes[tray[0].job_class]:
                job = tray.popleft()
                credit -= minutes[job.job_class]
                staff_minutes[mm] += minutes[job.job_class]
                served_by_class[job.job_class, d] += 1
                waiting_days[d - job.arrived] += 1
                handle(job, d)
            if not tray:
                credit = 0.0  # minutes not used today are lost, as in the aggregate's in-tray

    def handle(job: Job, d: int) -> None:
        dec = job.decision
        if job.job_class == J_DUP:
            return  # found to be a duplicate (or, rarely, it became the household's application)
        if dec.outcome is Outcome.REJECTED:
            if dec.reason in CORRECTABLE:
                errors_returned[d] += 1
                resubmit(job.household, d)
            return
        result = ledger.verify(dec.application, dates[d])
        if result.outcome is Outcome.RETURNED or (result.outcome is Outcome.REJECTED and result.reason in CORRECTABLE):
            errors_returned[d] += 1
            resubmit(job.household, d)

    for mm in range(m):
        env.process(town_hall(mm))

    # ---- the bank: batches cut `prep` business days before each batch day, answered `lag` days after
    bdays = np.flatnonzero(cal.business)
    batches: dict[int, list[tuple[int, int]]] = {}  # cash day -> [(batch id, batch day)]
    cut_days: dict[int, int] = {}
    for i, bd in enumerate(bdays):
        if cal.batch[bd] and bd >= cal.first_payment_day and i - dis.preparation_business_days >= 0:
            cut_days[int(bdays[i - dis.preparation_business_days])] = int(bd)

    def bank():  # noqa: ANN202
        for d in range(h):
            yield env.timeout(d + 0.75 - env.now)
            if d in cut_days:
                batch = ledger.make_batch(dates[d], business_day=True)
                if batch is not None:
                    bd = cut_days[d]
                    i = int(np.searchsorted(bdays, bd)) + dis.bank_lag_business_days
                    if i < len(bdays):
                        batches.setdefault(int(bdays[i]), []).append((batch.id, bd))
            for batch_id, _bd in batches.pop(d, []):
                batch = ledger.batch(batch_id)
                answers = []
                for t in batch.transfers:
                    bounced = rng.random() < dis.bank_reject_rate
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
                    raise AssertionError(f"bank reconciliation of batch {batch_id}: {report}")
            for mm in range(m):
                backlog[mm, d] = len(trays[mm])
            ledger.check_invariants()

    env.process(bank())
    env.run(until=h)
    ledger.check_invariants(full=True)
    gc.unfreeze()

    paid = paid_day >= 0
    route_paid[paid] = plan.route[paid]
    t = mun.type_index[hh.municipality]
    persons = roll.amount[: len(hh)] // params.amount_per_resident
    paid_households = np.zeros((len(MUNICIPALITY_TYPES), h))
    paid_persons = np.zeros((len(MUNICIPALITY_TYPES), h))
    np.add.at(paid_households, (t[paid], paid_day[paid]), 1)
    np.add.at(paid_persons, (t[paid], paid_day[paid]), persons[paid])
    paid_by_route = np.zeros((4, h))
    np.add.at(paid_by_route, (route_paid[paid], paid_day[paid]), 1)
    totals = ledger.totals()
    counts = (
        ledger.counts()
        | world.counters
        | {
            "paid_households": int(totals.paid),
            "paid_amount_yen": int(totals.paid_amount),
            "paid_entitlement_yen": int(totals.paid_entitlement),
        }
    )
    n_types = len(MUNICIPALITY_TYPES)
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
        extra={"never_applied": float((plan.route == NEVER).sum())},
    )
    return result, counts
