"""The payout services at national volume: batch entry points against today's per-household path,
JPKI signature checks, the agent run at 1:100 and its scaling on Dask (issue 16).

Targets:
- end to end through the ledger (register snapshot and entitlement roll, intake with idempotency
  keys, verification against the register, transfer batches, bank reconciliation, invariants):
  >= 20,000 households/s per core on the memory store, >= 5,000/s on SQLite (WAL, synchronous=FULL),
  side by side with the per-household path (one transaction per call). Reported as households per
  wall-clock second and per CPU second (``per_core``): on a shared machine the CPU figure is the one
  that says what a core does;
- the cost of a JPKI signature check (real RSA: the certificate's chain once per certificate, the
  form's signature every time) and of a card signing a form (issue at the counter + sign);
- the agent payout at 1:100 (about 576,000 households, four designs, signatures checked on a 2 %
  sample) in <= 120 s on 2 cores, with the peak memory of each partition, and its agreement with the
  aggregate tier on the same households: days to 50/90/99 % by municipality type and design within
  the stated tolerances (``twin.models.payout.agreement``; first measured 2026-12-05: worst 3 / 1 / 3
  days against 7 / 7 / 10);
- >= 1.8x from 1 to 2 Dask workers on the partitions of one design;
- the agent run at 1:100 (one design) on a 2-worker Dask LocalCluster byte-identical to one process
  (2026-12-05, load about 3: 57.2 s on Dask, 64.5 s in one process; identical).

Last measured 2026-12-06 03:55-04:03 UTC (``uptime``: load average 1.4-2.7, 4.5 at the very end; before
that 7-10 from other sessions' jobs on the shared 2 cores), after the ledger's records got a generated
``_replace``, the memory store's and the SQL store's transactions a write buffer per table, ``get_many`` a
range query for dense int keys, and the SQL store an ``UPDATE`` for rows its memo says exist (profile
before them below). ``test_ledger_end_to_end``, whole test, per CPU second, the code before (7c49009: best
of 1 round on SQLite, 2 on memory) and after (best of 5; SQLite per household 1 round), two pairs (after
then before at 03:55-03:58, before then after at 03:58-04:03):

=====================  ==========================  ==========================  =========================
path                   before (7c49009)            after                       load average (1 min)
=====================  ==========================  ==========================  =========================
memory, per household  14,216; 13,560              19,374; 19,804              before 2.2-1.5; 1.4-1.8
memory, batch          18,286; 17,987              26,694; 23,984              after 2.7-2.2; 1.8-4.5
SQLite, per household  1,235; 1,292                1,017; 837                  wall: 927, 908 / 202, 138
SQLite, batch          4,802; 5,642                6,343; 6,519                target 5,000: met by 27-30 %
=====================  ==========================  ==========================  =========================

SQLite per household is bound by the fsync of each commit: its wall figure (households a wall second) went
from 927 and 908 before to 202 and 138 after in these pairs, but was 125-142 for both in the pairs under load
below; its transactions (one a call, no nested buffer) take the same SQL path as before: 3,000 households on
that path, interleaved at 04:05 (load average 4.4-5.2), did 886 and 931 per CPU second before and 947 and 940
after (140 and 129 against 149 and 127/s wall), so those wall figures were the disk's latency at the time.
Under the heavier load just before (03:24-03:38, load average 7.1-9.7, one after the other, two pairs; after:
best of 3 rounds): memory per household 17,716 / 12,113 -> 21,054 / 13,944; memory batch 21,488 / 14,858 ->
27,235 / 17,229; SQLite per household 1,063 / 763 -> 944 / 850; SQLite batch 5,299 / 4,200 -> 5,107 / 5,227.
The whole test is three minutes, and the load moves under it; the 20,000-household pipeline as a script
(``batched`` on a fresh store, best of two rounds a process, the code before and after interleaved) sees both
under the same load: SQLite batch 5,714 / 5,870 / 5,277 / 5,524 -> 6,773 / 6,591 / 6,452 / 6,561 per CPU
second (+12 to +22 %, load average 5.8-7.0); memory batch (59,000 households) 16,244 / 19,581 / 19,808 ->
25,790 / 24,943 / 26,333 (+27 to +59 %, load average 7.0-7.2). The SQLite batch benchmark alone after it, load
average 8.8: 5,248 / 5,319 / 5,296 per CPU second in its three rounds. The CPU figures of this 2-core machine
are not load-free (other jobs take the shared caches): the asserted targets (20,000 memory, 5,000 SQLite, per
CPU second, best of the rounds) held in every run at a load average up to 8 (memory batch 23,984 - 27,235,
SQLite batch 5,107 - 6,519), but the memory batch missed once at 9.1 (17,229; the code before did 14,858 just
before it).

Profile before these changes (py-spy at 500 Hz, ``gc.callbacks`` for the collector; load 4-6):
memory batch: the standard named-tuple ``_replace`` (with ``_make``) 17 % inclusive, the collector
about a fifth (young collections every 50,000 allocations inside ``bulk``, two or three full ones a
round as the heap grows), ``MemoryStore._apply`` 8 %, ``MemoryTransaction.get`` 8 %, the
fingerprint's digest 8 %; SQLite batch: ``_flush`` 49 % inclusive (``executemany`` of the upserts and
deletes about 20 %, encoding 19 %, the loop the rest), ``get_many`` 10 %, the scans 6 %, the collector
about 13 %. Every read and write of a batch built a ``(table, key)`` pair (about fifteen a household),
each an allocation the young collections count. After them the SQLite batch is ``executemany`` (about a
quarter of the CPU), encoding (about a fifth: 12 rows a household, four durable states), ``get_many``,
the ledger's rules and the collector; what is left would need fewer or smaller rows (a layout or format
change), not tried here. Tried and dropped this time: a text cache of the nested account and application
by identity (written 7 and 2 times a household; encoding one account is about 1.05 us, so it would save
about 3 % at best and measured no better in a micro-benchmark under load).

Earlier figures (2026-12-04, after the store codec's text writer and object-hook reader and the SQL
store's int-key columns) on the shared 2-core build machine under a load average of 5-8, three runs of
``test_ledger_end_to_end`` (per CPU second; wall figures swing with the load, SQLite's per-household
wall figure is fsync-bound: 100-128/s):

=====================  ==========================  ============================================
path                   households per CPU second   before: last figures (load 2-4); 21:57 run
=====================  ==========================  ============================================
memory, per household  20,431 - 22,353             18,944 - 21,427; 21,189
memory, batch          20,743 - 22,574             18,752 - 22,502; 21,258
SQLite, per household  787 - 899                   652 - 962; 1,211
SQLite, batch          4,364 - 4,683               2,467 - 2,903; 3,132
=====================  ==========================  ============================================

Before and after on the same load (the SQLite batch of 20,000 households alone, the store package of
commit 691f21e against this one, interleaved, three runs each): 3,046 - 3,102 -> 4,134 - 4,433 per
CPU second. The profile of that batch now (CPU timers around the store's calls): SQLite itself
(executemany of about 280,000 upserts and deletes, about 250 bulk reads and scans, the commits) 36 %,
reading rows (decode) 24 %, writing rows (encode) 16 %, the ledger's rules and the store's buffers
the rest. The memory store's path is unchanged by this work. The household file is written once
per step (applied, verified, in a batch, paid: four durable states, four transactions); within a
batch every record is written once, so there are no repeated writes left to remove.

signature check 25 us (a certificate seen before) / 93 us (a new one: its chain checked once);
card issue + sign 3.1 ms. Agent run at 1:100 (``twin run scenarios/payout_2020_agent.yaml --scale
0.01``, four designs, 576,197 households, 96 partitions on 2 local processes): 149 s wall under a load
average of about 3, 166 CPU seconds of which 155 in the partitions, worker peak 347 MiB (about 89 s
on two idle cores by that CPU split; not measured on a quiet machine). Dask LocalCluster at 1:200,
one design (nation build included): 1 worker 57.8 s, 2 workers 120.1 s (0.48x: on that machine the
second worker got no second core; not re-measured).
On a quiet machine (load average 1.5-2, 2026-12-04 23:00-23:08, after the merges of that evening):
SQLite batch 3,711/s wall, 3,851 per CPU second (SQLite per household 985 / 1,286; memory 22,188 /
21,822 per household / batch); the agent run at 1:100 (``twin run scenarios/payout_2020_agent.yaml
--scale 0.01``) 93.6 s wall, 174.8 s user, peak 0.48 GiB (target 120 s: met); Dask at 1:200, one
design: 1 worker 24.7 s, 2 workers 13.0 s, 1.90x (target 1.8x: met).
2026-12-05 23:31 UTC, idle machine (load 0.8 before), with partitions in sections (``agent.split_above``)
and VmHWM peaks: agent run at 1:100 111.0 s wall (200 partition CPU s, worker peak 260 MiB); Dask at 1:200,
one design: 1 worker 40.3 s, 2 workers 21.9 s, 1.84x. Both targets met.


2026-12-05, after the SQL store hands back the records it wrote instead of decoding them again
(``SqlStore._read``: only while the row holds exactly the text it wrote, and only for values
``encode_exact`` says read back with the same immutable types), checks an insert's key without
decoding the row, and SQLite keeps a 64 MiB page cache and checkpoints its log every 8,192 pages
(durability unchanged: WAL, synchronous=FULL). Profile of a 50,000-household batch before it
(cProfile, ``PayoutLedger`` on ``SqliteStore``, the ``batched`` path below): decoding rows 38 % of
the CPU time (household files, application records, the transfer batch read back by its insert's
key check), encoding 18 %, SQLite (executemany, commits, bulk reads) about 30 %, the ledger's rules
and the store's buffers the rest. After it, decoding is gone from the profile; encoding (12 writes a
household: four durable states) and SQLite's writes (about 12 row writes and 3 deletes a household,
each in the primary key and the scan-order index) are most of what is left.

Under a load average of 4-5 (other builds on the 2 cores), before and after run side by side at the
same time so both see the same load (``-k "test_ledger_end_to_end and sqlite and batch"``, two runs
each): SQLite batch 3,167 - 3,430 -> 3,674 - 3,983 per CPU second; the same 20,000-household pipeline
as a script, four pairs: 2,377 - 2,940 -> 2,871 - 3,609 (+15 to +25 %). The whole test after it, same
load: memory 16,982 / 17,557 (per household / batch: under this load; the memory path is unchanged),
SQLite per household 1,096, SQLite batch 3,401 per CPU second. On a quiet machine (load average below
1, 14:15 that day): before and after interleaved, two runs each, SQLite batch 3,788 - 3,823 -> 4,479 -
4,650 per CPU second (+18 to +22 %); the whole test after it: memory 19,965 / 21,713 (per household /
batch), SQLite per household 1,480, SQLite batch 4,585 per CPU second (4,429/s wall).

Not met by those figures: 5,000/s on SQLite (4,479 - 4,650 per CPU second on the quiet machine,
3,401 - 3,983 under load; the rest is encoding, SQLite's own b-tree work and the ledger's per-record
Python); batch is not well above per household in memory; memory per household was 19,965 in that
last run (20,000/s held in the earlier quiet runs; the memory path is unchanged).

2026-12-05 18:00, after the SQLite rows are keyed by their scan order (primary key
``(tbl, kind, ik, sk)``, no second index ``records_order``: each row inserted or deleted touched two
b-trees, and a household is 8 row inserts, 4 updates and 3 deletes over its four steps). Profile
before it (py-spy, 500 Hz, the 20,000-household batch; CPU timers around the SQL calls agree):
SQLite's ``executemany`` of the upserts and deletes about 24 %, its commits about 6 %, encoding about
20 %, bulk reads (SQL and the memo compare) about 10 %, the ledger's rules and the store's buffers the
rest; reads were no longer decoded (the memo), so carrying records between the steps would save the
bulk reads' SQL only, not the decode. Load average 4-5.4 (other jobs on the 2 cores), the
20,000-household pipeline as a script, best of two rounds per process, the code before (760df16)
and after interleaved, four pairs: SQLite batch 4,706 / 4,847 / 4,408 / 4,323 -> 5,237 / 5,244 /
4,934 / 5,237 per CPU second (+8 to +21 %). Memory (59,000 households, code unchanged), same load:
batch 21,459 / 21,583 before, 21,117 / 20,221 after; per household 19,588 before, 19,062 after.
``test_ledger_end_to_end`` after it, under a load average of 3.2-5.9: memory per household 17,889,
memory batch 20,023 (one run); SQLite per household 1,071, 969 and 980 (221, 130 and 134/s wall:
fsync-bound), SQLite batch 4,574, 5,206 and 4,927 per CPU second (3,079, 3,690 and 4,764/s wall).
So 5,000/s on SQLite is reached in most runs under that load but not in every one; not measured on a
quiet machine. Tried and
dropped: a text memo of frozen dataclasses by identity (the account written nine times a household)
measured slower; a 16 KiB page inconclusive under the load.

2026-12-05 21:20, after four changes to the SQL store and its codec (profile before them, py-spy at
500 Hz on the 20,000-household batch: SQLite's ``executemany`` of the upserts about 19 %, encoding
about 20 %, the bulk reads about 12 %, scans 4 %, the ledger's rules and the buffers the rest):
new SQLite files get 16 KiB pages (a row holds its whole record, about 800 bytes for an
application, so 4 KiB leaves split on most inserts); inside a transaction begun while no other
connection committed (``PRAGMA data_version`` unchanged) the records the store wrote are taken from
its memo without reading their rows; a scan takes an int key from its ``ik`` column; record values
are written as ASCII JSON (sqlite3 converts a string holding a katakana name to UTF-8 on every bind
and back on every read: 3.2-3.3 against 2.3-2.4 us per 800-byte row written in a micro-benchmark).
``-k "test_ledger_end_to_end and sqlite"``, the code before (b3b06b1, in the main worktree) and after
interleaved, three runs each, load average 1.4-2.7: SQLite batch 5,046 / 5,329 / 5,057 -> 5,924 /
5,918 / 5,868 per CPU second (+11 to +17 %; 5,762 / 5,743 / 5,698/s wall); SQLite per household
1,137 / 1,585 / 1,545 -> 1,493 / 1,516 / 1,609. Two more pairs (SQLite batch only, load average
0.5-1.9): 4,941 / 4,825 -> 5,761 / 5,832. An earlier interleaved set (before the ASCII values,
load average 2-6): 4,756 / 4,936 / 4,624 -> 4,872 / 5,340 / 5,379. Tried and dropped: sorting a
flush's rows by key (slower: the sort costs more than the b-tree saves), a text cache of nested
frozen dataclasses by identity (slower as written: its own counting made ``encode_exact`` say "not
exact", so nothing was remembered); not done: ``UPDATE`` for rows known to exist instead of the
upsert (0.3 us a row in a micro-benchmark), dropping the ``k`` column (about 0.2 us a row; needs a
migration).

Run with ``make bench`` or ``.venv/bin/pytest benchmarks/test_bench_payout_batch.py --benchmark-only -s``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pytest

from twin.models.payout import agreement
from twin.services.accounts import BankAccount, PublicBenefitAccounts
from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    Channel,
    EntitlementRoll,
    PayoutLedger,
    Programme,
    SignatureCheck,
)
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore

DAY = dt.date(2020, 5, 11)
SIZES = np.array([1, 2, 3, 4, 5, 6])
SIZE_SHARES = np.array([0.38, 0.28, 0.17, 0.12, 0.04, 0.01])
BATCH = 5_000  # applications per intake file / checks per verification batch
#: households through the ledger per CPU second on the batch path, by store (issue 16)
TARGET_PER_CPU_S = {"memory": 20_000, "sqlite": 5_000}


def register(households: int, seed: int = 0) -> ResidentRegistry:
    rng = np.random.default_rng(seed)
    size = rng.choice(SIZES, households, p=SIZE_SHARES)
    hh = np.repeat(np.arange(households), size)
    head = np.r_[True, hh[1:] != hh[:-1]]
    muni = rng.integers(0, 1741, households)[hh] + 1000
    age = np.where(head, rng.integers(20, 95, len(hh)), rng.integers(0, 95, len(hh)))
    return ResidentRegistry.load(
        MemoryStore(), as_of=dt.date(2020, 1, 1), rng=np.random.default_rng(seed + 1),
        municipality=muni, age=age, sex=rng.integers(1, 3, len(hh)), household=hh, is_head=head,
    )  # fmt: skip


def forms(reg: ResidentRegistry, roll: EntitlementRoll) -> list[tuple[Application, str]]:
    readings = reg.readings(roll.head)
    return [
        (Application(h, int(roll.head[h]), Channel.MAIL, BankAccount("0001", "123", "普通", f"{h:07d}", readings[h]),
                     roll.members(h)), f"form-{h}")
        for h in range(len(roll))
    ]  # fmt: skip


def pay(ledger: PayoutLedger) -> None:
    while (batch := ledger.make_batch(DAY, True, 20_000)) is not None:
        answers = [BankConfirmation(t.household, BankOutcome.CONFIRMED, t.amount) for t in batch.transfers]
        ledger.record_bank_results(batch.id, answers, DAY)
        ledger.check_invariants()


def per_household(ledger: PayoutLedger, items: list[tuple[Application, str]]) -> None:
    """Today's path: one call (one transaction) per application and per check."""
    for app, key in items:
        ledger.submit(app, key, DAY)
    for aid in ledger.pending_verification():
        ledger.verify(aid, DAY)
    pay(ledger)


def batched(ledger: PayoutLedger, items: list[tuple[Application, str]]) -> None:
    """The batch entry points: a day's intake file, a town hall's day of checks."""
    for i in range(0, len(items), BATCH):
        ledger.submit_many(items[i : i + BATCH], DAY)
    pending = ledger.pending_verification()
    for i in range(0, len(pending), BATCH):
        ledger.verify_many(pending[i : i + BATCH], DAY)
    pay(ledger)


def open_store(kind: str, tmp: Path) -> object:
    if kind == "memory":
        return MemoryStore()
    from real_backends.stores.sqlite import SqliteStore

    return SqliteStore(tmp / f"ledger-{time.monotonic_ns()}.db")


@pytest.mark.parametrize("path", ["per_household", "batch"])
@pytest.mark.parametrize("kind, households", [("memory", 59_000), ("sqlite", 20_000)])
def test_ledger_end_to_end(benchmark, tmp_path: Path, kind: str, households: int, path: str) -> None:  # noqa: ANN001
    reg = register(households)
    items = forms(reg, EntitlementRoll.from_registry(reg, Programme()))
    run = per_household if path == "per_household" else batched
    cpu: list[float] = []

    def setup() -> tuple[tuple, dict]:
        reg._cache.clear()
        return (open_store(kind, tmp_path),), {}

    def once(store: object) -> PayoutLedger:
        c0 = time.process_time()
        roll = EntitlementRoll.from_registry(reg, Programme())  # the register snapshot on the reference date
        ledger = PayoutLedger(store, Programme(), roll, accounts=PublicBenefitAccounts(store, reg.reading))  # type: ignore[arg-type]
        run(ledger, items)
        cpu.append(time.process_time() - c0)
        return ledger

    # SQLite per household is fsync-bound (about 150 s of wall a round): one round; the others take the best of
    # five (on the shared machine a round's CPU figure swings with the other jobs: 4,356 - 5,377 in one process)
    rounds = 1 if (kind, path) == ("sqlite", "per_household") else 5
    ledger = benchmark.pedantic(once, setup=setup, rounds=rounds, iterations=1)
    ledger.check_invariants(full=True)
    assert ledger.totals().paid == households
    wall, per_cpu = households / benchmark.stats.stats.min, households / min(cpu)
    benchmark.extra_info.update(
        households=households, households_per_s=round(wall), households_per_cpu_s=round(per_cpu)
    )
    print(f"\n{kind} {path}: {wall:,.0f} households/s wall, {per_cpu:,.0f} per CPU second")
    if path == "batch":  # the targets of issue 16 are the batch entry points' (per household is today's path)
        target, load = TARGET_PER_CPU_S[kind], os.getloadavg()[0]
        assert per_cpu >= target, (
            f"{kind} batch: {per_cpu:,.0f} households per CPU second (best of {len(cpu)} rounds), "
            f"target {target:,} (load average {load:.1f})"
        )


@pytest.fixture(scope="module")
def signed() -> dict:
    from twin.models.payout.cards import ApplicantCards

    reg = register(200)
    roll = EntitlementRoll.from_registry(reg, Programme())
    cards = ApplicantCards(reg, dt.date(2020, 4, 27))
    apps = [app for app, _ in forms(reg, roll)[:100]]
    apps = [dataclasses.replace(a, channel=Channel.ONLINE) for a in apps]
    t0 = time.perf_counter()
    out = [cards.sign(a) for a in apps]
    return {"cards": cards, "signed": out, "sign_s": (time.perf_counter() - t0) / len(apps)}


def test_signature_check_cost(benchmark, signed: dict) -> None:  # noqa: ANN001
    """One check of a form whose certificate was seen before (the signature: one RSA-2048 verify)."""
    check = SignatureCheck(signed["cards"].issuer)
    apps = signed["signed"]
    for a in apps:
        assert check(a, DAY)

    def verify_all() -> None:
        for a in apps:
            check(a, DAY)

    benchmark.pedantic(verify_all, rounds=5, iterations=1)
    per = benchmark.stats.stats.min / len(apps)
    fresh = SignatureCheck(signed["cards"].issuer)
    t0 = time.perf_counter()
    for a in apps:
        fresh(a, DAY)
    first = (time.perf_counter() - t0) / len(apps)
    benchmark.extra_info.update(
        check_us=round(per * 1e6, 1), check_new_certificate_us=round(first * 1e6, 1),
        card_issue_and_sign_ms=round(signed["sign_s"] * 1e3, 2),
    )  # fmt: skip
    print(f"\nsignature check {per * 1e6:,.0f} us (new certificate {first * 1e6:,.0f} us); "
          f"card issue + sign {signed['sign_s'] * 1e3:,.1f} ms")  # fmt: skip


def agent_context(scale: float, options: int | None = None, fidelity: str = "agent",  # noqa: ANN201
                  plan_above: int | None = None):  # fmt: skip
    """The bundled agent scenario at ``scale`` (its first ``options`` designs); ``fidelity="aggregate"``
    is the same scenario, seed and scale at the aggregate tier: the same households and plans; ``plan_above``
    sets ``agent.plan_above`` (0: the partitions rebuild their households from the layout, planned.py)."""
    from twin import scenario as sc
    from twin.runs import RunContext

    path = Path(__file__).resolve().parent.parent / "scenarios" / "payout_2020_agent.yaml"
    text = path.read_text()
    assert "  fidelity: agent\n" in text
    if fidelity != "agent":
        text = text.replace("  fidelity: agent\n", f"  fidelity: {fidelity}\n")
    if plan_above is not None:
        text = text.replace("  fidelity: agent\n", f"  fidelity: agent\n  agent: {{plan_above: {plan_above}}}\n")
    s = sc.loads(text, path).with_overrides(scale=scale)
    if options is not None:
        s = dataclasses.replace(s, options=s.options[:options])
    return RunContext(s)


@pytest.mark.timeout(3600)
def test_agent_payout_1_to_100(benchmark) -> None:  # noqa: ANN001
    """The bundled agent scenario at 1:100, four designs, partitions on local processes (2 cores)."""
    from twin.models import payout

    results = []
    benchmark.pedantic(lambda: results.append(payout.run(agent_context(0.01))), rounds=1, iterations=1)
    table = next(b for s in results[-1].sections if s.title.startswith("Partitions") for b in s.blocks
                 if hasattr(b, "rows"))  # fmt: skip
    peak = max(r[6] for r in table.rows)
    cpu = sum(r[5] for r in table.rows)
    households = sum(r[3] for r in table.rows) // 4
    benchmark.extra_info.update(seconds=round(benchmark.stats.stats.min, 1), households=households,
                                partitions=len(table.rows), peak_partition_rss_mib=peak,
                                partition_cpu_s=round(cpu, 1))  # fmt: skip
    print(f"\nagent 1:100: {benchmark.stats.stats.min:.1f} s, {households:,} households, "
          f"{len(table.rows)} partitions ({cpu:,.0f} CPU s), peak worker RSS {peak:,.0f} MiB")  # fmt: skip
    # agreement with the aggregate tier at 1:100 (issue 16): the same scenario, seed and scale at aggregate
    # fidelity (the same households and plans, about 15 s), days to 50/90/99 % by municipality type and
    # design within the stated tolerances (twin.models.payout.agreement; make test checks them at 1:1000,
    # where the agent run costs seconds, not the 200 CPU seconds of this one)
    aggregate = payout.run(agent_context(0.01, fidelity="aggregate"))
    agent = results[-1]
    options = agent.summary["option_order"]
    for o in options:  # the same households: entitled and sampled alike
        entitled = agent.summary["options"][o]["entitled_households"]
        assert entitled == aggregate.summary["options"][o]["entitled_households"], o
    gaps = agreement.compare(agent.metrics.frame(), aggregate.metrics.frame(), options)
    assert len(gaps) == len(options) * 4 * len(agreement.TOLERANCE_DAYS)
    worst = {s: max(g.days for g in gaps if g.share == s) for s in agreement.TOLERANCE_DAYS}
    benchmark.extra_info.update(agreement_worst_days={f"{s:.0%}": d for s, d in worst.items()},
                                agreement_mean_days=round(sum(g.days for g in gaps) / len(gaps), 2))  # fmt: skip
    print(f"agent vs aggregate at 1:100, worst gap in days to 50/90/99 % by type: {worst} "
          f"(tolerances {agreement.TOLERANCE_DAYS})")  # fmt: skip
    bad = agreement.failures(gaps)
    assert not bad, bad
    seconds, load = benchmark.stats.stats.min, os.getloadavg()[0]
    assert seconds <= 120, f"agent payout at 1:100 took {seconds:.1f} s (target 120 s; load average {load:.1f})"


@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    ("scale", "plan_above"),
    [(0.005, 100_000_000), (0.01, 0)],
    ids=["built-1:200", "planned-1:100"],  # the nation built here and split / walked here and rebuilt by each partition
)
def test_agent_partitions_scale_from_1_to_2_dask_workers(benchmark, scale: float, plan_above: int) -> None:  # noqa: ANN001
    """One design at ``scale`` on a LocalCluster of 1, then of 2 single-threaded workers."""
    from twin.experiments import DaskExecutor
    from twin.experiments.partitions import using
    from twin.models import payout

    times = {}
    for n in (1, 2):
        with DaskExecutor(workers=n) as ex, using(ex):
            ctx = agent_context(scale, options=1, plan_above=plan_above)
            t0 = time.perf_counter()
            payout.run(ctx)
            times[n] = time.perf_counter() - t0
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    speedup = times[1] / times[2]
    benchmark.extra_info.update(one_worker_s=round(times[1], 1), two_workers_s=round(times[2], 1),
                                speedup=round(speedup, 2))  # fmt: skip
    print(f"\nDask 1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s: {speedup:.2f}x")
    load = os.getloadavg()[0]
    assert speedup >= 1.8, f"2 Dask workers only {speedup:.2f}x faster than 1 (target 1.8x; load average {load:.1f})"


@pytest.mark.timeout(3600)
def test_agent_run_at_1_to_100_on_two_dask_workers_is_byte_identical_to_one_process(benchmark, tmp_path: Path) -> None:  # noqa: ANN001
    """Issue 16: the agent run at 1:100 on a 2-worker Dask LocalCluster started here gives the same metrics
    and summary, byte for byte, as the same run in this one process. One design (the baseline) to keep it
    to about two minutes; make test runs all four designs at 1:5000 on a scheduler and two ``dask worker``
    processes (tests/experiments/test_partitions.py)."""
    import json

    from twin.experiments import DaskExecutor, InlineExecutor
    from twin.experiments.partitions import using
    from twin.metrics import with_scope, write_parquet
    from twin.models import payout

    out = {}
    times = {}
    for name, make in (("dask", lambda: DaskExecutor(workers=2)), ("one process", InlineExecutor)):
        with make() as ex, using(ex):
            t0 = time.perf_counter()
            r = payout.run(agent_context(0.01, options=1))
            times[name] = time.perf_counter() - t0
        path = tmp_path / f"{name}.parquet"
        write_parquet(with_scope(r.metrics.frame()), str(path))
        out[name] = (path.read_bytes(), json.dumps(r.summary, sort_keys=True, default=str))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(dask_s=round(times["dask"], 1), one_process_s=round(times["one process"], 1))
    print(f"\n1:100 baseline: Dask 2 workers {times['dask']:.1f} s, one process {times['one process']:.1f} s")
    assert len(out["dask"][0]) > 10_000
    assert out["dask"][0] == out["one process"][0]
    assert out["dask"][1] == out["one process"][1]
